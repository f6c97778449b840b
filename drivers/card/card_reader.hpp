// The card readers on one line (a `card` bus: RS-485 / RS-232 serial, or a serial device server
// over TCP): listens for the frames the readers send when a card is presented, decodes them with
// the line's frame format (card_frames.hpp) and hands each card to `on_card`. A reader repeats
// its frame while a card is held; the same card at the same reader within `repeat_window` is
// reported once. Bytes that are not a frame, a frame that stops half way and a bad check byte or
// parity are counted and dropped; the next frame is read normally. A line that fails is reopened
// with capped, jittered backoff (Link). Card numbers are never logged in full.
// Thread-safety: start()/stop()/counters() from any thread; on_card runs on the line's strand.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "drivers/card/card_frames.hpp"
#include "drivers/transports/link.hpp"

namespace estate::drivers::card {

struct CardReaderCounters {
  std::uint64_t cards = 0;         // reported to on_card
  std::uint64_t repeats = 0;       // the same card again within the repeat window
  std::uint64_t frame_errors = 0;  // not a frame, or a frame that stopped half way
  std::uint64_t check_errors = 0;  // check byte or Wiegand parity wrong
  std::uint64_t line_errors = 0;   // the line failed or could not be opened
};

// The stream of a card bus: serial or TCP as for every bus, or a USB keyboard-wedge reader
// (kind usb, usb_hid_stream.hpp). Throws std::runtime_error for usb in a build without USB.
std::unique_ptr<ByteStream> make_card_stream(boost::asio::any_io_executor ex,
                                             const BusConfig& bus);

class CardReaderLine : public std::enable_shared_from_this<CardReaderLine> {
 public:
  using Handler = std::function<void(const CardFrame&)>;

  CardReaderLine(boost::asio::any_io_executor strand, std::unique_ptr<ByteStream> stream,
                 const FrameFormat& format, LinkOptions options, Handler on_card,
                 std::chrono::milliseconds repeat_window = std::chrono::milliseconds(2000));

  void start();
  // Ends the listening loop and closes the line; `done` (may be empty) runs once it has ended.
  void stop(std::function<void()> done = {});
  CardReaderCounters counters() const;
  std::string describe() const { return link_.describe(); }

 private:
  boost::asio::awaitable<void> run();

  boost::asio::any_io_executor strand_;
  Link link_;
  const FrameFormat& format_;
  Handler on_card_;
  std::chrono::milliseconds repeat_window_;
  boost::asio::steady_timer pause_;
  std::map<std::pair<int, std::string>, std::chrono::steady_clock::time_point> last_seen_;
  bool stopping_ = false;
  bool running_ = false;
  std::function<void()> stopped_;
  mutable std::mutex mutex_;
  CardReaderCounters counters_;
};

}  // namespace estate::drivers::card
