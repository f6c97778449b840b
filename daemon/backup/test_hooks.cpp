// Test-only hook, compiled into the test build of the daemon (target estate-edge-test) and never
// into estate_daemon or the installed estate-edge: $ESTATE_EDGE_TEST_BACKUP_EVERY_MS runs the
// scheduled backup every that many milliseconds instead of daily at security.backup.daily_at, so
// tests/integration/test_backup_restore.py sees a failed backup reported and then cleared.
#include <chrono>
#include <cstdlib>
#include <string>

#include "daemon/audit/security_component.hpp"

namespace {

[[maybe_unused]] const bool installed = [] {
  if (const char* v = std::getenv("ESTATE_EDGE_TEST_BACKUP_EVERY_MS")) {
    estate::audit::set_backup_test_interval(std::chrono::milliseconds(std::atol(v)));
  }
  return true;
}();

}  // namespace
