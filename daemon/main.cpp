#include "daemon/cli/cli.hpp"

int main(int argc, char** argv) { return estate::cli::main(argc, argv); }
