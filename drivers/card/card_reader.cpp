#include "drivers/card/card_reader.hpp"

#include "drivers/card/usb_hid_stream.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace estate::drivers::card {

std::unique_ptr<ByteStream> make_card_stream(boost::asio::any_io_executor ex,
                                             const BusConfig& bus) {
  if (bus.kind != BusKind::usb) return make_stream(std::move(ex), bus);
  std::string error;
  auto sel = parse_usb_selector(bus.device, error);
  if (!sel) throw std::runtime_error("bus " + bus.id + ": " + error);
#ifdef ESTATE_EDGE_WITH_USB
  return make_usb_hid_stream(std::move(ex), *sel);
#else
  throw std::runtime_error("bus " + bus.id + ": this build has no USB support");
#endif
}

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::string masked(const std::string& card) {
  return card.size() <= 4 ? std::string("****") : "****" + card.substr(card.size() - 4);
}

}  // namespace

CardReaderLine::CardReaderLine(asio::any_io_executor strand, std::unique_ptr<ByteStream> stream,
                               const FrameFormat& format, LinkOptions options, Handler on_card,
                               std::chrono::milliseconds repeat_window)
    : strand_(strand),
      link_(strand, std::move(stream), options),
      format_(format),
      on_card_(std::move(on_card)),
      repeat_window_(repeat_window),
      pause_(strand) {}

void CardReaderLine::start() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    if (self->running_ || self->stopping_) return;
    self->running_ = true;
    asio::co_spawn(self->strand_, self->run(), [self](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("card readers on {}: listening failed: {}", self->describe(), ex.what());
        }
      }
      self->running_ = false;
      self->link_.close();
      if (auto done = std::move(self->stopped_)) done();
    });
  });
}

void CardReaderLine::stop(std::function<void()> done) {
  asio::dispatch(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    self->stopping_ = true;
    if (!self->running_) {
      self->link_.close();
      if (done) done();
      return;
    }
    self->stopped_ = std::move(done);
    self->pause_.cancel();
    // A receive in progress ends at its timer (at most one wait period).
  });
}

CardReaderCounters CardReaderLine::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

asio::awaitable<void> CardReaderLine::run() {
  const auto scan = scanner(format_);
  std::vector<std::uint8_t> frame;
  bool line_up = false;
  while (!stopping_) {
    // Short waits keep stop() prompt; a quiet line is the normal state.
    const error_code ec = co_await link_.receive(scan, frame, std::chrono::milliseconds(250));
    if (stopping_) break;
    if (!line_up && link_.is_open()) {
      spdlog::info("card readers on {}: listening", describe());
      line_up = true;
    }
    if (ec == TransportError::timeout) continue;
    if (ec == TransportError::frame_error || ec == TransportError::checksum_error) {
      std::lock_guard lock(mutex_);
      ++(ec == TransportError::checksum_error ? counters_.check_errors : counters_.frame_errors);
      spdlog::debug("card readers on {}: frame dropped: {}", describe(), ec.message());
      continue;
    }
    if (ec) {
      {
        std::lock_guard lock(mutex_);
        ++counters_.line_errors;
      }
      if (line_up || ec != TransportError::not_connected) {
        spdlog::warn("card readers on {}: {}", describe(), ec.message());
      }
      line_up = false;
      // The link refuses to reopen before its backoff expires: wait a little, then try again.
      error_code wait_ec;
      pause_.expires_after(std::chrono::milliseconds(100));
      co_await pause_.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
      continue;
    }
    std::string why;
    auto card = decode_frame(format_, frame, why);
    if (!card) {
      std::lock_guard lock(mutex_);
      ++counters_.frame_errors;
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    auto& seen = last_seen_[{card->address.value_or(-1), card->card}];
    const bool repeat = seen.time_since_epoch().count() != 0 && now - seen < repeat_window_;
    seen = now;
    if (last_seen_.size() > 256) {
      // Forget cards not seen for a while so the map stays small on a busy gate.
      std::erase_if(last_seen_, [&](const auto& kv) { return now - kv.second >= repeat_window_; });
    }
    {
      std::lock_guard lock(mutex_);
      ++(repeat ? counters_.repeats : counters_.cards);
    }
    if (repeat) continue;
    spdlog::debug("card readers on {}: card {} at address {}", describe(), masked(card->card),
                  card->address.value_or(-1));
    if (on_card_) on_card_(*card);
  }
}

}  // namespace estate::drivers::card
