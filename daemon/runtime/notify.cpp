#include "daemon/runtime/notify.hpp"

#include <systemd/sd-daemon.h>

#include <string>

namespace estate::runtime {

void notify(std::string_view state) {
  std::string s(state);
  sd_notify(0, s.c_str());
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec);
  return std::nullopt;
}

}  // namespace estate::runtime
