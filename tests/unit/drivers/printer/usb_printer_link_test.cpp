// The USB receipt-printer link without a printer on the bus: every use fails with an error
// the printer driver reports (and retries later), nothing blocks or crashes. The job path
// itself needs a printer on USB (see docs/operations.md for commissioning one).
#include <gtest/gtest.h>

#include <boost/asio/error.hpp>

#include "drivers/printer/escpos_printer.hpp"
#include "drivers/printer/usb_printer_link.hpp"

namespace estate::drivers::printer {
namespace {

#ifdef ESTATE_EDGE_WITH_USB
TEST(UsbPrinterLink, AMissingPrinterFailsEachUseWithAnError) {
  // No device has this id (0xfffe is not a printer's product id here).
  auto link = make_usb_printer_link(card::UsbSelector{0xffff, 0xfffe, ""});
  const std::vector<std::uint8_t> job{0x1B, 0x40, 'h', 'i', '\n'};
  EXPECT_TRUE(link->write(job, std::chrono::milliseconds(50)));
  std::vector<std::uint8_t> in;
  EXPECT_TRUE(link->read_some(in, std::chrono::milliseconds(50)));
  EXPECT_TRUE(in.empty());
  link->close();
  // Through the printer driver: the receipt is reported as not printed, with a reason.
  EscposPrinter printer(make_usb_printer_link(card::UsbSelector{0xffff, 0xfffe, "9-9"}),
                        std::chrono::milliseconds(50));
  auto r = printer.print(job);
  EXPECT_FALSE(r.printed);
  EXPECT_FALSE(r.error.empty());
}
#endif

}  // namespace
}  // namespace estate::drivers::printer
