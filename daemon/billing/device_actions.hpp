// The boundary between billing and the meters' buses: billing asks for a supply action
// (close/open a water valve per CJ/T 188, trip/close a relay per DL/T 645) and is told the
// device's answer. The bus driver implements this; tests plug in a simulated device.
// Thread-safety: request() may be called from the store's writer thread and must not block
// (queue the work on the meter's bus strand); `done` may be called from any thread, once.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace estate::billing {

enum class SupplyAction { valve_close, valve_open, relay_trip, relay_close };

std::string_view to_string(SupplyAction a);

class DeviceActions {
 public:
  struct Answer {
    bool ok = false;
    std::string detail;  // the device's answer or the failure, for the event log
  };
  virtual ~DeviceActions() = default;
  virtual void request(const std::string& meter, SupplyAction action,
                       std::function<void(Answer)> done) = 0;
};

}  // namespace estate::billing
