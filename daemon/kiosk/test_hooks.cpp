// Test-only hooks, compiled into the test build of the daemon (target estate-edge-test) and
// never into estate_daemon or the installed estate-edge: when $ESTATE_EDGE_TEST_CRASH_AFTER names
// a journal transition, the process kills itself (SIGKILL) right after it is durable, so the
// crash tests can restart from every state (tests/integration/test_payment_kiosk.py).
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "daemon/kiosk/payment_service.hpp"

namespace {

void crash_after(std::string_view point) {
  static const std::string target = [] {
    const char* v = std::getenv("ESTATE_EDGE_TEST_CRASH_AFTER");
    return std::string(v ? v : "");
  }();
  if (!target.empty() && target == point) {
    spdlog::default_logger()->flush();
    ::kill(::getpid(), SIGKILL);
  }
}

[[maybe_unused]] const bool installed = [] {
  estate::kiosk::set_crash_hook(&crash_after);
  return true;
}();

}  // namespace
