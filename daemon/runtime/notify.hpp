// systemd notification (sd_notify): READY, RELOADING, STOPPING, WATCHDOG and STATUS lines.
// A no-op when NOTIFY_SOCKET is unset. Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace estate::runtime {

void notify(std::string_view state);  // e.g. "READY=1\nSTATUS=running"
// The watchdog interval systemd expects (WatchdogSec), if enabled for this process.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace estate::runtime
