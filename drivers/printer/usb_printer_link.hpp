// A receipt printer on USB (printer class 07, the interface most ESC/POS printers offer):
// the job goes out on the bulk-OUT endpoint and the printer's status answers (DLE EOT) come
// back on bulk-IN, read through libusb so no kernel printer driver or spooler is involved.
// The printer is chosen like a USB card reader: "VID:PID" (hex), optionally "@BUS-PORT.PORT".
// Opens on first use and again after an error (a printer switched off and on, or unplugged).
// Built with ESTATE_EDGE_WITH_USB.
// Thread-safety: one thread at a time, as every BlockingLink.
#pragma once

#include <memory>

#include "drivers/card/usb_hid_stream.hpp"
#include "drivers/pos/blocking_link.hpp"

namespace estate::drivers::printer {

#ifdef ESTATE_EDGE_WITH_USB
std::unique_ptr<BlockingLink> make_usb_printer_link(card::UsbSelector printer);
#endif

}  // namespace estate::drivers::printer
