// Byte links with deadlines for the devices a worker thread drives one exchange at a time
// (POS terminal, receipt printer): TCP (connects on first use and again after an error) and
// serial lines. Blocking; each link has its own io_context, so it never touches the daemon's.
// Thread-safety: one thread at a time per BlockingLink.
#pragma once

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace estate::drivers {

using std::chrono::milliseconds;

class BlockingLink {
 public:
  virtual ~BlockingLink() = default;
  virtual boost::system::error_code write(std::span<const std::uint8_t> data, milliseconds timeout) = 0;
  // Appends what arrives within `timeout` (at least one byte) to `out`; timed_out otherwise.
  virtual boost::system::error_code read_some(std::vector<std::uint8_t>& out, milliseconds timeout) = 0;
  virtual void close() = 0;
};

// TCP: connects on first use and again after an error.
std::unique_ptr<BlockingLink> make_blocking_tcp_link(std::string host, std::uint16_t port,
                                    milliseconds connect_timeout = milliseconds(3000));
// Serial: 8N1 at `baud`.
std::unique_ptr<BlockingLink> make_blocking_serial_link(std::string device, unsigned baud);

}  // namespace estate::drivers
