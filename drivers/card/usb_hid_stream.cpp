#include "drivers/card/usb_hid_stream.hpp"

#include <libusb.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "drivers/card/hid_keyboard.hpp"

namespace estate::drivers::card {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// The shared part: the reader thread fills `text` and posts deliveries to the strand.
struct State {
  explicit State(asio::any_io_executor e) : ex(std::move(e)) {}
  asio::any_io_executor ex;
  std::mutex mutex;
  std::deque<std::uint8_t> text;  // decoded characters not read yet
  error_code failure;             // the device went away or a transfer failed
  // Strand only:
  asio::mutable_buffer buffer;
  ByteStream::ReadHandler pending;

  // On the strand: completes the pending read if there is something for it.
  void deliver() {
    if (!pending) return;
    std::size_t n = 0;
    error_code ec;
    {
      std::lock_guard lock(mutex);
      n = std::min(buffer.size(), text.size());
      std::copy_n(text.begin(), n, static_cast<std::uint8_t*>(buffer.data()));
      text.erase(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(n));
      if (n == 0) ec = failure;
    }
    if (n == 0 && !ec) return;
    auto h = std::move(pending);
    pending = nullptr;
    h(ec, n);
  }
};

class UsbHidStream final : public ByteStream {
 public:
  UsbHidStream(asio::any_io_executor ex, UsbSelector sel)
      : ex_(std::move(ex)), sel_(std::move(sel)) {}
  ~UsbHidStream() override { close(); }

  void async_open(Handler h) override {
    close();
    const auto ec = open();
    asio::post(ex_, [h = std::move(h), ec] { h(ec); });
  }

  void async_write(std::span<const std::uint8_t>, Handler h) override {
    // A keyboard-wedge reader takes no commands.
    asio::post(ex_, [h = std::move(h)] { h(asio::error::operation_not_supported); });
  }

  void async_read_some(asio::mutable_buffer buf, ReadHandler h) override {
    if (!state_) {
      asio::post(ex_, [h = std::move(h)] { h(asio::error::not_connected, 0); });
      return;
    }
    state_->buffer = buf;
    state_->pending = std::move(h);
    asio::post(ex_, [s = state_] { s->deliver(); });
  }

  void cancel() override {
    if (!state_ || !state_->pending) return;
    auto h = std::move(state_->pending);
    state_->pending = nullptr;
    asio::post(ex_, [h = std::move(h)] { h(asio::error::operation_aborted, 0); });
  }

  void close() override {
    cancel();
    running_ = false;
    if (reader_.joinable()) reader_.join();
    if (handle_) {
      libusb_release_interface(handle_, interface_);
      libusb_close(handle_);
      handle_ = nullptr;
    }
    if (ctx_) {
      libusb_exit(ctx_);
      ctx_ = nullptr;
    }
    state_.reset();
  }

  bool is_open() const override { return handle_ != nullptr; }
  std::string describe() const override { return "usb " + to_string(sel_); }
  asio::any_io_executor get_executor() override { return ex_; }

 private:
  error_code open() {
    if (int rc = libusb_init(&ctx_); rc != 0) {
      ctx_ = nullptr;
      return usb_error(rc);
    }
    if (auto ec = usb_open_selected(ctx_, sel_, [this](libusb_device* d) { return claim(d); })) {
      return ec;
    }
    state_ = std::make_shared<State>(ex_);
    running_ = true;
    reader_ = std::thread([this, s = state_] { read_reports(s); });
    return {};
  }

  // Opens the device and claims its HID interface with an interrupt-IN endpoint.
  error_code claim(libusb_device* dev) {
    auto interrupt_in = [this](const libusb_interface_descriptor& alt) {
      for (int e = 0; e < alt.bNumEndpoints; ++e) {
        const auto& ep = alt.endpoint[e];
        if ((ep.bmAttributes & 3) == LIBUSB_TRANSFER_TYPE_INTERRUPT &&
            (ep.bEndpointAddress & LIBUSB_ENDPOINT_IN)) {
          endpoint_ = ep.bEndpointAddress;
          packet_ = std::max<int>(8, ep.wMaxPacketSize);
          return true;
        }
      }
      return false;
    };
    int iface = -1;
    if (auto ec = usb_claim_interface(dev, LIBUSB_CLASS_HID, interrupt_in, handle_, iface)) {
      return ec;  // operation_not_supported: not a HID keyboard
    }
    interface_ = iface;
    // HID SET_PROTOCOL(boot): the 8-byte report layout the decoder reads. Readers that only
    // speak boot protocol refuse it; that is fine.
    libusb_control_transfer(handle_, 0x21, 0x0B, 0, static_cast<std::uint16_t>(iface), nullptr, 0,
                            500);
    return {};
  }

  void read_reports(std::shared_ptr<State> s) {
    HidKeyboardDecoder decoder;
    std::vector<std::uint8_t> report(static_cast<std::size_t>(packet_));
    std::string text;
    while (running_) {
      int got = 0;
      const int rc = libusb_interrupt_transfer(handle_, endpoint_, report.data(),
                                               static_cast<int>(report.size()), &got, 200);
      if (rc == LIBUSB_ERROR_TIMEOUT) continue;
      if (rc != 0) {
        {
          std::lock_guard lock(s->mutex);
          s->failure = usb_error(rc);
        }
        asio::post(s->ex, [s] { s->deliver(); });
        return;
      }
      text.clear();
      decoder.feed(std::span(report.data(), static_cast<std::size_t>(got)), text);
      if (text.empty()) continue;
      {
        std::lock_guard lock(s->mutex);
        s->text.insert(s->text.end(), text.begin(), text.end());
      }
      asio::post(s->ex, [s] { s->deliver(); });
    }
  }

  asio::any_io_executor ex_;
  UsbSelector sel_;
  libusb_context* ctx_ = nullptr;
  libusb_device_handle* handle_ = nullptr;
  int interface_ = 0;
  unsigned char endpoint_ = 0;
  int packet_ = 8;
  std::shared_ptr<State> state_;
  std::atomic<bool> running_{false};
  std::thread reader_;
};

}  // namespace

boost::system::error_code usb_error(int rc) {
  switch (rc) {
    case LIBUSB_ERROR_ACCESS: return asio::error::access_denied;
    case LIBUSB_ERROR_NO_DEVICE:
    case LIBUSB_ERROR_NOT_FOUND: return asio::error::not_found;
    case LIBUSB_ERROR_BUSY: return asio::error::in_progress;
    case LIBUSB_ERROR_TIMEOUT: return asio::error::timed_out;
    case LIBUSB_ERROR_NO_MEM: return asio::error::no_memory;
    default: return asio::error::connection_reset;
  }
}

std::string usb_port_path(libusb_device* dev) {
  std::uint8_t ports[8];
  const int n = libusb_get_port_numbers(dev, ports, sizeof ports);
  std::string s = std::to_string(libusb_get_bus_number(dev));
  for (int i = 0; i < n; ++i) s += (i == 0 ? "-" : ".") + std::to_string(ports[i]);
  return s;
}

error_code usb_open_selected(libusb_context* ctx, const UsbSelector& sel,
                             const std::function<error_code(libusb_device*)>& claim) {
  libusb_device** list = nullptr;
  const auto n = libusb_get_device_list(ctx, &list);
  if (n < 0) return usb_error(static_cast<int>(n));
  error_code ec = asio::error::not_found;
  for (ssize_t i = 0; i < n && ec == asio::error::not_found; ++i) {
    libusb_device_descriptor d{};
    if (libusb_get_device_descriptor(list[i], &d) != 0) continue;
    if (d.idVendor != sel.vendor || d.idProduct != sel.product) continue;
    if (!sel.port_path.empty() && usb_port_path(list[i]) != sel.port_path) continue;
    ec = claim(list[i]);
  }
  libusb_free_device_list(list, 1);
  return ec;
}

error_code usb_claim_interface(libusb_device* dev, std::uint8_t interface_class,
                               const std::function<bool(const libusb_interface_descriptor&)>& accept,
                               libusb_device_handle*& handle, int& interface_number) {
  libusb_config_descriptor* cfg = nullptr;
  if (int rc = libusb_get_active_config_descriptor(dev, &cfg); rc != 0) return usb_error(rc);
  int iface = -1;
  for (int i = 0; i < cfg->bNumInterfaces && iface < 0; ++i) {
    if (cfg->interface[i].num_altsetting < 1) continue;
    const auto& alt = cfg->interface[i].altsetting[0];
    if (alt.bInterfaceClass == interface_class && accept(alt)) iface = alt.bInterfaceNumber;
  }
  libusb_free_config_descriptor(cfg);
  if (iface < 0) return asio::error::operation_not_supported;
  if (int rc = libusb_open(dev, &handle); rc != 0) {
    handle = nullptr;
    return usb_error(rc);
  }
  libusb_set_auto_detach_kernel_driver(handle, 1);
  if (int rc = libusb_claim_interface(handle, iface); rc != 0) {
    libusb_close(handle);
    handle = nullptr;
    return usb_error(rc);
  }
  interface_number = iface;
  return {};
}

std::unique_ptr<ByteStream> make_usb_hid_stream(asio::any_io_executor ex, UsbSelector s) {
  return std::make_unique<UsbHidStream>(std::move(ex), std::move(s));
}

}  // namespace estate::drivers::card
