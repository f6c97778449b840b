#include "daemon/cli/cli.hpp"

#include <algorithm>
#include <iostream>

namespace estate::cli {

void fail(int code) { throw CLI::RuntimeError(code); }

void fail(int code, const std::string& message) {
  std::cerr << "estate-edge: " << message << "\n";
  throw CLI::RuntimeError(code);
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

int main(int argc, char** argv) {
  CLI::App app{"estate-edge: the on-site gateway of a property management platform"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "estate-edge: " << e.what() << "\n";
    return exit_runtime;
  }
  return exit_ok;
}

}  // namespace estate::cli
