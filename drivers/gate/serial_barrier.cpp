#include "drivers/gate/serial_barrier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

namespace estate::drivers::gate {

namespace asio = boost::asio;
using boost::system::error_code;

BarrierControllerLine::BarrierControllerLine(asio::any_io_executor strand,
                                             std::unique_ptr<ByteStream> stream,
                                             const ControllerFormat& format, LinkOptions options)
    : strand_(strand), link_(strand, std::move(stream), options), format_(format) {}

void BarrierControllerLine::transact(int address, ControllerCommand command, Handler done) {
  if (stopped_) return done(make_error_code(TransportError::cancelled), ControllerStatus{});
  if (queue_.size() >= max_queue) return done(make_error_code(TransportError::overloaded), ControllerStatus{});
  queue_.push_back({address, command, std::move(done)});
  if (busy_) return;
  busy_ = true;
  asio::co_spawn(strand_, drain(), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("barrier line {}: {}", self->describe(), ex.what());
    }
  });
}

asio::awaitable<void> BarrierControllerLine::drain() {
  auto self = shared_from_this();
  while (!queue_.empty() && !stopped_) {
    auto p = std::move(queue_.front());
    queue_.pop_front();
    const auto request = encode_request(format_, p.address, p.command);
    std::vector<std::uint8_t> answer;
    error_code ec = co_await link_.transact(request, answer_scanner(format_), answer);
    ControllerStatus status;
    bool refused = false;
    if (!ec) {
      std::string why;
      auto a = decode_answer(format_, p.command, answer, why);
      if (!a) {
        spdlog::debug("barrier line {}: address {}: {}", link_.describe(), p.address, why);
        ec = TransportError::bad_answer;
      } else if (format_.address && a->address != p.address) {
        spdlog::debug("barrier line {}: answer from address {}, asked {}", link_.describe(),
                      a->address, p.address);
        ec = TransportError::bad_answer;
      } else {
        status = a->status;
        refused = a->refused;
        if (refused) ec = TransportError::device_error;
      }
    }
    {
      std::lock_guard lock(mutex_);
      ++counters_.commands;
      if (ec) ++counters_.failures;
      if (refused) ++counters_.refusals;
    }
    p.done(ec, status);
  }
  busy_ = false;
  if (stopped_) link_.close();
}

void BarrierControllerLine::stop() {
  stopped_ = true;
  auto queued = std::move(queue_);
  queue_.clear();
  for (auto& p : queued) p.done(make_error_code(TransportError::cancelled), ControllerStatus{});
  if (!busy_) link_.close();
}

ControllerLineCounters BarrierControllerLine::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void SerialBarrierIo::read_loop(LoopHandler done) {
  line_->transact(address_, ControllerCommand::status,
                  [this, done = std::move(done)](error_code ec, const ControllerStatus& st) {
                    if (!ec) arm_ = st.arm;
                    // A controller that reports a fault: its loop reading is not trusted.
                    if (!ec && st.fault) ec = TransportError::device_error;
                    done(ec, st.loop_occupied);
                  });
}

void SerialBarrierIo::drive(bool open, DriveHandler done) {
  line_->transact(address_, open ? ControllerCommand::open : ControllerCommand::close,
                  [this, done = std::move(done)](error_code ec, const ControllerStatus& st) {
                    if (!ec || ec == TransportError::device_error) arm_ = st.arm;
                    done(ec);
                  });
}

}  // namespace estate::drivers::gate
