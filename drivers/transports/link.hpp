// A Link runs request/answer transactions on one half-duplex bus: it keeps the line open
// (reopening with capped, jittered backoff after a failure), respects the quiet time the
// protocol wants between frames, writes a request with a timeout, drops the adapter's echo if
// the bus has one, and reads until the protocol's frame scanner says a frame is complete, the
// bytes are not a frame, or the time is up. One transaction at a time: callers serialise
// through the bus strand (BusScheduler does).
// Thread-safety: none; every member is used on the strand given to the constructor.
// Errors: TransportError values (timeout, closed, not_connected, frame_error, checksum_error),
// system errors of the line.
#pragma once

#include <utility>  // before Asio's awaitable (Boost 1.74 uses std::exchange without it)

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "drivers/transports/backoff.hpp"
#include "drivers/transports/errors.hpp"
#include "drivers/transports/stream.hpp"

namespace estate::drivers {

// What a frame scanner says of the bytes received so far. Scanners are length-driven (the
// codecs' parsers): they never take a data byte equal to an end mark for the end of a frame.
struct FrameScan {
  enum class Status { need_more, complete, invalid, bad_checksum };
  Status status = Status::need_more;
  std::size_t length = 0;   // complete: bytes of the frame; the rest is left unread
  std::size_t skip = 0;     // need_more/complete: leading bytes that precede the frame (preamble)
  std::string message;      // invalid / bad_checksum: why
};
using FrameScanner = std::function<FrameScan(std::span<const std::uint8_t>)>;

struct LinkOptions {
  std::chrono::milliseconds answer_timeout{1000};  // end of request to first answer byte
  // After a byte arrived, the next must follow within this (a frame is sent in one go).
  std::chrono::milliseconds char_timeout{100};
  std::chrono::nanoseconds min_gap{0};    // quiet time between the end of one frame and the next
  bool echo = false;                      // discard our own request read back from the line
  std::chrono::milliseconds reconnect_base{200};
  std::chrono::milliseconds reconnect_cap{30000};
  std::size_t max_frame = 1024;           // a scanner that never completes is cut off here
};

struct LinkCounters {
  std::uint64_t requests = 0;
  std::uint64_t answers = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t frame_errors = 0;
  std::uint64_t checksum_errors = 0;
  std::uint64_t opens = 0;
  std::uint64_t open_failures = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t bytes_in = 0;
};

class Link {
 public:
  Link(boost::asio::any_io_executor strand, std::unique_ptr<ByteStream> stream,
       LinkOptions options, std::uint64_t seed = std::random_device{}());

  // Writes `request` and reads one answer frame into `answer`. `timeout` overrides the answer
  // timeout for this transaction (slow commands such as a valve that must move first).
  boost::asio::awaitable<boost::system::error_code> transact(
      std::span<const std::uint8_t> request, const FrameScanner& scan,
      std::vector<std::uint8_t>& answer,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Writes a request that has no answer (a broadcast), then keeps the line quiet for the gap.
  boost::asio::awaitable<boost::system::error_code> send(std::span<const std::uint8_t> request);

  // Waits up to `wait` for a frame the device sends unasked (a card reader's card number) and
  // returns it in `frame`. Bytes after the frame are kept for the next call (two frames back
  // to back). timeout: nothing arrived; frame_error / checksum_error: bytes that are not a
  // frame (dropped up to the next possible start, as the scanner's `skip` says) or a frame
  // that stopped half way (its bytes stopped for longer than the character timeout).
  boost::asio::awaitable<boost::system::error_code> receive(const FrameScanner& scan,
                                                            std::vector<std::uint8_t>& frame,
                                                            std::chrono::milliseconds wait);

  // Reads for `window` and returns everything that arrived (collision checks, flushing).
  boost::asio::awaitable<boost::system::error_code> listen(std::chrono::milliseconds window,
                                                           std::vector<std::uint8_t>& out);

  // Opens the line if it is closed and the reconnect backoff allows; not_connected otherwise.
  boost::asio::awaitable<boost::system::error_code> ensure_open();
  void close();
  bool is_open() const { return stream_->is_open(); }

  const LinkCounters& counters() const { return counters_; }
  const LinkOptions& options() const { return options_; }
  void set_options(const LinkOptions& o) { options_ = o; }
  std::string describe() const { return stream_->describe(); }

 private:
  using Clock = std::chrono::steady_clock;
  boost::asio::awaitable<boost::system::error_code> wait_gap();
  boost::asio::awaitable<boost::system::error_code> write(std::span<const std::uint8_t> bytes);
  // Reads some bytes into buf_ until `deadline`; timeout when nothing came.
  boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_until(
      Clock::time_point deadline);
  boost::asio::awaitable<void> flush(Clock::time_point deadline);
  void fail_line(const boost::system::error_code& ec);
  // Opens the line if need be, keeps the inter-frame gap, drops unasked bytes and writes.
  boost::asio::awaitable<boost::system::error_code> put_request(
      std::span<const std::uint8_t> request);
  // After a read of `n` bytes: the read's error, or closed when it read nothing (end of
  // stream), having taken the line down; no error when bytes came.
  boost::system::error_code line_failed(boost::system::error_code ec, std::size_t n);

  boost::asio::any_io_executor strand_;
  std::unique_ptr<ByteStream> stream_;
  LinkOptions options_;
  boost::asio::steady_timer timer_;
  Backoff backoff_;
  Clock::time_point next_open_{};
  Clock::time_point quiet_since_{};
  std::uint64_t op_gen_ = 0;
  std::vector<std::uint8_t> pending_;  // bytes received but not yet consumed
  std::array<std::uint8_t, 512> buf_{};
  LinkCounters counters_;
};

}  // namespace estate::drivers
