// A keyboard-wedge card reader on USB (HID boot keyboard), read directly through libusb rather
// than as a keyboard: the reader's interface is claimed from the kernel's HID driver (so card
// numbers are never typed into a console), its interrupt-IN reports are decoded into the text
// the reader types (HidKeyboardDecoder) and offered as a byte stream, so a card line reads them
// with the decimal-text or hex-text frame format like any serial reader. Built with
// ESTATE_EDGE_WITH_USB (libusb-1.0).
//
// The device is chosen by "VID:PID" (hex), optionally "@BUS-PORT.PORT..." (the physical
// socket, as in /sys/bus/usb/devices) when several identical readers are plugged in. Unplugging
// fails the pending read (the card line then reopens it with backoff, as for a serial line).
// Thread-safety: as ByteStream (one strand); a reader thread per open stream does the blocking
// transfers and posts results to the stream's executor.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "drivers/transports/stream.hpp"

namespace estate::drivers::card {

struct UsbSelector {
  std::uint16_t vendor = 0;
  std::uint16_t product = 0;
  std::string port_path;  // "" = the first device with vendor:product; else e.g. "1-1.4"
};

// Parses "ffff:0035" or "ffff:0035@1-1.4". nullopt (and `error`) when malformed.
std::optional<UsbSelector> parse_usb_selector(const std::string& text, std::string& error);
std::string to_string(const UsbSelector& s);

#ifdef ESTATE_EDGE_WITH_USB
std::unique_ptr<ByteStream> make_usb_hid_stream(boost::asio::any_io_executor ex, UsbSelector s);
#endif

}  // namespace estate::drivers::card

#ifdef ESTATE_EDGE_WITH_USB
#include <functional>

struct libusb_context;
struct libusb_device;
struct libusb_device_handle;
struct libusb_interface_descriptor;
namespace estate::drivers::card {
// A device's physical socket as the selector names it: "BUS-PORT[.PORT...]" (for the USB
// printer link too).
std::string usb_port_path(libusb_device* dev);
// A libusb return code as the error code the links report (not_found for a device that is
// gone, access_denied, timed_out, ...).
boost::system::error_code usb_error(int rc);
// Lists the devices on `ctx` that `sel` names and hands each to `claim` until one answers other
// than not_found (not_found when none is plugged in).
boost::system::error_code usb_open_selected(
    libusb_context* ctx, const UsbSelector& sel,
    const std::function<boost::system::error_code(libusb_device*)>& claim);
// Opens `dev` and claims the first interface of `interface_class` whose first alternate setting
// `accept` takes (it notes the endpoints it needs), detaching a kernel driver (usbhid, usblp) if
// one is bound. operation_not_supported when no interface fits; `handle` stays null on failure.
boost::system::error_code usb_claim_interface(
    libusb_device* dev, std::uint8_t interface_class,
    const std::function<bool(const libusb_interface_descriptor&)>& accept,
    libusb_device_handle*& handle, int& interface_number);
}  // namespace estate::drivers::card
#endif
