#include "drivers/printer/usb_printer_link.hpp"

#include <libusb.h>

#include <boost/asio/error.hpp>

#include <algorithm>

namespace estate::drivers::printer {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

using card::usb_error;

class UsbPrinterLink final : public BlockingLink {
 public:
  explicit UsbPrinterLink(card::UsbSelector sel) : sel_(std::move(sel)) {}
  ~UsbPrinterLink() override {
    close();
    if (ctx_) libusb_exit(ctx_);
  }

  error_code write(std::span<const std::uint8_t> data, milliseconds timeout) override {
    if (auto ec = open()) return ec;
    std::size_t sent = 0;
    while (sent < data.size()) {
      int n = 0;
      const int chunk = static_cast<int>(std::min<std::size_t>(data.size() - sent, 16384));
      const int rc = libusb_bulk_transfer(handle_, out_, const_cast<std::uint8_t*>(data.data() + sent),
                                          chunk, &n, static_cast<unsigned>(timeout.count()));
      sent += static_cast<std::size_t>(std::max(n, 0));
      if (rc != 0) return fail(rc);
    }
    return {};
  }

  error_code read_some(std::vector<std::uint8_t>& out, milliseconds timeout) override {
    if (auto ec = open()) return ec;
    if (!in_) return asio::error::operation_not_supported;  // a printer that never answers
    std::uint8_t buf[64];
    int n = 0;
    const int rc = libusb_bulk_transfer(handle_, in_, buf, sizeof buf, &n,
                                        static_cast<unsigned>(timeout.count()));
    if (rc == LIBUSB_ERROR_TIMEOUT && n == 0) return asio::error::timed_out;
    if (rc != 0 && rc != LIBUSB_ERROR_TIMEOUT) return fail(rc);
    if (n == 0) return asio::error::timed_out;
    out.insert(out.end(), buf, buf + n);
    return {};
  }

  void close() override {
    if (!handle_) return;
    libusb_release_interface(handle_, interface_);
    libusb_close(handle_);
    handle_ = nullptr;
  }

 private:
  error_code fail(int rc) {
    if (rc != LIBUSB_ERROR_TIMEOUT) close();  // reopened on the next use
    return usb_error(rc);
  }

  error_code open() {
    if (handle_) return {};
    if (!ctx_) {
      if (int rc = libusb_init(&ctx_); rc != 0) {
        ctx_ = nullptr;
        return usb_error(rc);
      }
    }
    return card::usb_open_selected(ctx_, sel_, [this](libusb_device* d) { return claim(d); });
  }

  // Opens the device and claims its printer-class interface with a bulk-OUT endpoint.
  error_code claim(libusb_device* dev) {
    auto bulk_out = [this](const libusb_interface_descriptor& alt) {
      out_ = in_ = 0;
      for (int e = 0; e < alt.bNumEndpoints; ++e) {
        const auto& ep = alt.endpoint[e];
        if ((ep.bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_BULK) continue;
        if (ep.bEndpointAddress & LIBUSB_ENDPOINT_IN) in_ = ep.bEndpointAddress;
        else out_ = ep.bEndpointAddress;
      }
      return out_ != 0;
    };
    // operation_not_supported: not a printer. usblp, if loaded, is detached.
    return card::usb_claim_interface(dev, LIBUSB_CLASS_PRINTER, bulk_out, handle_, interface_);
  }

  card::UsbSelector sel_;
  libusb_context* ctx_ = nullptr;
  libusb_device_handle* handle_ = nullptr;
  int interface_ = 0;
  unsigned char out_ = 0, in_ = 0;
};

}  // namespace

std::unique_ptr<BlockingLink> make_usb_printer_link(card::UsbSelector printer) {
  return std::make_unique<UsbPrinterLink>(std::move(printer));
}

}  // namespace estate::drivers::printer
