// The command line: `estate-edge <command>`. Each command lives in its own cmd_*.cpp and is
// registered in commands.cpp. Exit codes: 0 ok, 1 runtime error, 2 usage or config error.
// Machine output is JSON with --json; human output is aligned text.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace estate::cli {

enum ExitCode : int { exit_ok = 0, exit_runtime = 1, exit_usage = 2 };

// Ends the running command with `code` (CLI11 carries it out of the callback).
[[noreturn]] void fail(int code);

// Prints "estate-edge: <message>" on stderr and ends the command with `code`.
[[noreturn]] void fail(int code, const std::string& message);

void register_commands(CLI::App& app);

int main(int argc, char** argv);

// Aligned two-or-more-column text for people.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace estate::cli
