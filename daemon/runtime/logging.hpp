// Logging setup: spdlog to stderr. Under systemd (JOURNAL_STREAM set) each line carries the
// syslog priority prefix ("<3>") so journald keeps the level, and no timestamp of its own.
#pragma once

#include <string_view>

namespace estate::runtime {

void setup_logging(std::string_view level);

}  // namespace estate::runtime
