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
    libusb_device** list = nullptr;
    const auto n = libusb_get_device_list(ctx_, &list);
    if (n < 0) return usb_error(static_cast<int>(n));
    error_code ec = asio::error::not_found;
    for (ssize_t i = 0; i < n && ec == asio::error::not_found; ++i) {
      libusb_device_descriptor d{};
      if (libusb_get_device_descriptor(list[i], &d) != 0) continue;
      if (d.idVendor != sel_.vendor || d.idProduct != sel_.product) continue;
      if (!sel_.port_path.empty() && card::usb_port_path(list[i]) != sel_.port_path) continue;
      ec = claim(list[i]);
    }
    libusb_free_device_list(list, 1);
    return ec;
  }

  // Opens the device and claims its printer-class interface with a bulk-OUT endpoint.
  error_code claim(libusb_device* dev) {
    libusb_config_descriptor* cfg = nullptr;
    if (int rc = libusb_get_active_config_descriptor(dev, &cfg); rc != 0) return usb_error(rc);
    int iface = -1;
    for (int i = 0; i < cfg->bNumInterfaces && iface < 0; ++i) {
      if (cfg->interface[i].num_altsetting < 1) continue;
      const auto& alt = cfg->interface[i].altsetting[0];
      if (alt.bInterfaceClass != LIBUSB_CLASS_PRINTER) continue;
      out_ = in_ = 0;
      for (int e = 0; e < alt.bNumEndpoints; ++e) {
        const auto& ep = alt.endpoint[e];
        if ((ep.bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_BULK) continue;
        if (ep.bEndpointAddress & LIBUSB_ENDPOINT_IN) in_ = ep.bEndpointAddress;
        else out_ = ep.bEndpointAddress;
      }
      if (out_) iface = alt.bInterfaceNumber;
    }
    libusb_free_config_descriptor(cfg);
    if (iface < 0) return asio::error::operation_not_supported;  // not a printer
    if (int rc = libusb_open(dev, &handle_); rc != 0) {
      handle_ = nullptr;
      return usb_error(rc);
    }
    libusb_set_auto_detach_kernel_driver(handle_, 1);  // usblp, if loaded
    if (int rc = libusb_claim_interface(handle_, iface); rc != 0) {
      libusb_close(handle_);
      handle_ = nullptr;
      return usb_error(rc);
    }
    interface_ = iface;
    return {};
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
