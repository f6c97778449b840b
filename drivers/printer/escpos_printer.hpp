// An ESC/POS receipt printer on raw TCP (port 9100) or a serial line: reads its real-time
// status (DLE EOT 1, 2, 4: offline, cover open, paper end/near end) before and after a job, and
// sends the job only when it can print. Blocking; the payment service calls it from its worker.
// Thread-safety: one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "drivers/pos/blocking_link.hpp"
#include "protocols/escpos/escpos.hpp"

namespace estate::drivers::printer {

struct PrintOutcome {
  bool printed = false;
  protocols::escpos::Status status;
  std::string error;  // empty when printed: "offline", "paper out", "cover open", link errors
};

class EscposPrinter {
 public:
  EscposPrinter(std::unique_ptr<BlockingLink> link, milliseconds timeout = milliseconds(3000));

  // Asks DLE EOT 1, 2 and 4. An error string when the printer did not answer properly.
  std::optional<protocols::escpos::Status> status(std::string& error);
  PrintOutcome print(const std::vector<std::uint8_t>& job);

 private:
  std::unique_ptr<BlockingLink> link_;
  milliseconds timeout_;
};

std::string describe(const protocols::escpos::Status& s);  // "ok", "paper out", ...

}  // namespace estate::drivers::printer
