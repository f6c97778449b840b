#include "drivers/transports/link.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace estate::drivers {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// The stream interface takes std::function handlers; coroutine handlers are move-only, so they
// travel in a shared_ptr. Streams complete on the bus strand, where the coroutine runs.
template <class Token>
auto async_stream_read(ByteStream& s, asio::mutable_buffer b, Token&& token) {
  return asio::async_initiate<Token, void(error_code, std::size_t)>(
      [&s, b](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        s.async_read_some(b, [h](error_code ec, std::size_t n) { (*h)(ec, n); });
      },
      token);
}

template <class Token>
auto async_stream_write(ByteStream& s, std::span<const std::uint8_t> bytes, Token&& token) {
  return asio::async_initiate<Token, void(error_code)>(
      [&s, bytes](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        s.async_write(bytes, [h](error_code ec) { (*h)(ec); });
      },
      token);
}

template <class Token>
auto async_stream_open(ByteStream& s, Token&& token) {
  return asio::async_initiate<Token, void(error_code)>(
      [&s](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        s.async_open([h](error_code ec) { (*h)(ec); });
      },
      token);
}

}  // namespace

Link::Link(asio::any_io_executor strand, std::unique_ptr<ByteStream> stream, LinkOptions options,
           std::uint64_t seed)
    : strand_(std::move(strand)),
      stream_(std::move(stream)),
      options_(options),
      timer_(strand_),
      backoff_(options.reconnect_base, options.reconnect_cap, seed) {}

void Link::close() {
  stream_->close();
  pending_.clear();
}

void Link::fail_line(const error_code& ec) {
  // A line error (not a timeout): the next transaction reopens after the backoff.
  stream_->close();
  pending_.clear();
  next_open_ = Clock::now() + backoff_.next();
  (void)ec;
}

error_code Link::line_failed(error_code ec, std::size_t n) {
  if (!ec && n > 0) return {};
  if (!ec) ec = TransportError::closed;  // end of stream: the peer closed the line
  fail_line(ec);
  return ec;
}

asio::awaitable<error_code> Link::ensure_open() {
  if (stream_->is_open()) co_return error_code{};
  if (Clock::now() < next_open_) co_return make_error_code(TransportError::not_connected);
  error_code ec;
  ++op_gen_;
  const auto gen = op_gen_;
  bool timed_out = false;
  // Connecting is bounded like everything else (a TCP peer that never answers SYN).
  timer_.expires_after(std::max(options_.answer_timeout, std::chrono::milliseconds(1000)));
  timer_.async_wait([this, gen, &timed_out](error_code tec) {
    if (tec || gen != op_gen_) return;
    timed_out = true;
    stream_->cancel();
  });
  co_await async_stream_open(*stream_, asio::redirect_error(asio::use_awaitable, ec));
  ++op_gen_;
  timer_.cancel();
  if (timed_out) ec = TransportError::connect_timeout;
  if (ec) {
    ec = connect_error(ec);  // "connection refused", "no route to host" as mbpoll says them
    ++counters_.open_failures;
    stream_->close();
    next_open_ = Clock::now() + backoff_.next();
    co_return ec;
  }
  ++counters_.opens;
  backoff_.reset();
  pending_.clear();
  quiet_since_ = Clock::now();
  co_return error_code{};
}

asio::awaitable<error_code> Link::wait_gap() {
  const auto ready = quiet_since_ + std::chrono::duration_cast<Clock::duration>(options_.min_gap);
  if (Clock::now() >= ready) co_return error_code{};
  error_code ec;
  timer_.expires_at(ready);
  ++op_gen_;
  co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return error_code{};
}

asio::awaitable<error_code> Link::write(std::span<const std::uint8_t> bytes) {
  error_code ec;
  ++op_gen_;
  const auto gen = op_gen_;
  bool timed_out = false;
  timer_.expires_after(options_.answer_timeout + std::chrono::milliseconds(1000));
  timer_.async_wait([this, gen, &timed_out](error_code tec) {
    if (tec || gen != op_gen_) return;
    timed_out = true;
    stream_->cancel();
  });
  co_await async_stream_write(*stream_, bytes, asio::redirect_error(asio::use_awaitable, ec));
  ++op_gen_;
  timer_.cancel();
  if (timed_out) ec = TransportError::timeout;
  if (!ec) counters_.bytes_out += bytes.size();
  co_return ec;
}

asio::awaitable<std::pair<error_code, std::size_t>> Link::read_until(Clock::time_point deadline) {
  if (Clock::now() >= deadline) co_return std::pair{make_error_code(TransportError::timeout), 0};
  error_code ec;
  ++op_gen_;
  const auto gen = op_gen_;
  bool timed_out = false;
  timer_.expires_at(deadline);
  timer_.async_wait([this, gen, &timed_out](error_code tec) {
    if (tec || gen != op_gen_) return;
    timed_out = true;
    stream_->cancel();
  });
  std::size_t n = co_await async_stream_read(*stream_, asio::buffer(buf_),
                                             asio::redirect_error(asio::use_awaitable, ec));
  ++op_gen_;
  timer_.cancel();
  if (timed_out) {
    // Bytes that arrived together with the cancellation still count.
    if (n > 0) ec = {};
    else ec = TransportError::timeout;
  }
  if (n > 0) {
    counters_.bytes_in += n;
    pending_.insert(pending_.end(), buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  co_return std::pair{ec, n};
}

asio::awaitable<void> Link::flush(Clock::time_point deadline) {
  // Reads until the line has been quiet for a character timeout (or the deadline), so the tail
  // of a garbled or late answer cannot be taken for the next device's answer.
  pending_.clear();
  for (;;) {
    auto quiet = std::min(deadline, Clock::now() + options_.char_timeout);
    auto [ec, n] = co_await read_until(quiet);
    pending_.clear();
    if (ec || n == 0 || Clock::now() >= deadline) break;
  }
  quiet_since_ = Clock::now();
}

asio::awaitable<error_code> Link::put_request(std::span<const std::uint8_t> request) {
  if (auto ec = co_await ensure_open()) co_return ec;
  co_await wait_gap();
  // Whatever arrived unasked since the last transaction is not our answer.
  pending_.clear();
  ++counters_.requests;
  if (auto ec = co_await write(request)) {
    fail_line(ec);
    co_return ec;
  }
  co_return error_code{};
}

asio::awaitable<error_code> Link::transact(std::span<const std::uint8_t> request,
                                           const FrameScanner& scan,
                                           std::vector<std::uint8_t>& answer,
                                           std::optional<std::chrono::milliseconds> timeout) {
  answer.clear();
  if (auto ec = co_await put_request(request)) co_return ec;
  const auto answer_timeout = timeout.value_or(options_.answer_timeout);
  auto deadline = Clock::now() + answer_timeout;
  if (options_.echo) {
    // The adapter reads our own frame back first; it must match what we sent.
    while (pending_.size() < request.size()) {
      auto [ec, n] = co_await read_until(deadline);
      if (ec == TransportError::timeout) {
        ++counters_.timeouts;
        co_return ec;
      }
      if (ec) {
        fail_line(ec);
        co_return ec;
      }
    }
    if (!std::equal(request.begin(), request.end(), pending_.begin())) {
      ++counters_.frame_errors;
      co_await flush(Clock::now() + answer_timeout);
      co_return make_error_code(TransportError::frame_error);
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(request.size()));
    deadline = Clock::now() + answer_timeout;
  }
  bool got_bytes = !pending_.empty();
  for (;;) {
    if (!pending_.empty()) {
      FrameScan r = scan(pending_);
      switch (r.status) {
        case FrameScan::Status::complete: {
          const auto begin = pending_.begin() + static_cast<std::ptrdiff_t>(r.skip);
          answer.assign(begin, begin + static_cast<std::ptrdiff_t>(r.length));
          pending_.clear();
          ++counters_.answers;
          quiet_since_ = Clock::now();
          co_return error_code{};
        }
        case FrameScan::Status::invalid:
          ++counters_.frame_errors;
          co_await flush(Clock::now() + answer_timeout);
          co_return make_error_code(TransportError::frame_error);
        case FrameScan::Status::bad_checksum:
          ++counters_.checksum_errors;
          co_await flush(Clock::now() + answer_timeout);
          co_return make_error_code(TransportError::checksum_error);
        case FrameScan::Status::need_more:
          if (pending_.size() >= options_.max_frame) {
            ++counters_.frame_errors;
            co_await flush(Clock::now() + answer_timeout);
            co_return make_error_code(TransportError::frame_error);
          }
          break;
      }
    }
    auto [ec, n] = co_await read_until(deadline);
    if (ec == TransportError::timeout) {
      // Bytes that never formed a frame are a garbled answer, not silence.
      const bool garbled = got_bytes;
      if (garbled) ++counters_.frame_errors;
      else ++counters_.timeouts;
      pending_.clear();
      quiet_since_ = Clock::now();
      co_return garbled ? make_error_code(TransportError::frame_error) : ec;
    }
    if (n > 0) got_bytes = true;
    if (auto failed = line_failed(ec, n)) co_return failed;
    // The frame is flowing: the rest must follow without a long pause.
    deadline = Clock::now() + options_.char_timeout;
  }
}

asio::awaitable<error_code> Link::send(std::span<const std::uint8_t> request) {
  if (auto ec = co_await put_request(request)) co_return ec;
  if (options_.echo) {
    std::vector<std::uint8_t> echo;
    co_await listen(options_.char_timeout, echo);
  }
  quiet_since_ = Clock::now();
  co_return error_code{};
}

asio::awaitable<error_code> Link::listen(std::chrono::milliseconds window,
                                         std::vector<std::uint8_t>& out) {
  out.clear();
  if (auto ec = co_await ensure_open()) co_return ec;
  const auto deadline = Clock::now() + window;
  for (;;) {
    auto [ec, n] = co_await read_until(deadline);
    if (ec == TransportError::timeout) break;
    if (ec) {
      fail_line(ec);
      co_return ec;
    }
    if (n == 0) break;
  }
  out.swap(pending_);
  pending_.clear();
  quiet_since_ = Clock::now();
  co_return error_code{};
}

asio::awaitable<error_code> Link::receive(const FrameScanner& scan, std::vector<std::uint8_t>& frame,
                                          std::chrono::milliseconds wait) {
  frame.clear();
  if (auto ec = co_await ensure_open()) co_return ec;
  // Leftover bytes are the start of the next frame: its rest must follow quickly.
  auto deadline = Clock::now() + (pending_.empty() ? Clock::duration(wait)
                                                   : Clock::duration(options_.char_timeout));
  std::size_t preamble = 0;  // leading bytes the scanner skips (line ends between text lines)
  for (;;) {
    if (!pending_.empty()) {
      FrameScan r = scan(pending_);
      preamble = r.status == FrameScan::Status::need_more ? r.skip : 0;
      switch (r.status) {
        case FrameScan::Status::complete: {
          const auto begin = pending_.begin() + static_cast<std::ptrdiff_t>(r.skip);
          const auto end = begin + static_cast<std::ptrdiff_t>(r.length);
          frame.assign(begin, end);
          pending_.erase(pending_.begin(), end);
          ++counters_.answers;
          co_return error_code{};
        }
        case FrameScan::Status::invalid:
        case FrameScan::Status::bad_checksum: {
          const bool crc = r.status == FrameScan::Status::bad_checksum;
          ++(crc ? counters_.checksum_errors : counters_.frame_errors);
          const auto drop = std::min(pending_.size(), std::max<std::size_t>(1, r.skip));
          pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(drop));
          co_return make_error_code(crc ? TransportError::checksum_error
                                        : TransportError::frame_error);
        }
        case FrameScan::Status::need_more:
          if (pending_.size() >= options_.max_frame) {
            ++counters_.frame_errors;
            pending_.clear();
            co_return make_error_code(TransportError::frame_error);
          }
          break;
      }
    }
    auto [ec, n] = co_await read_until(deadline);
    if (ec == TransportError::timeout) {
      if (preamble >= pending_.size()) {  // a quiet line: nobody presented a card
        pending_.clear();
        co_return ec;
      }
      ++counters_.frame_errors;            // a frame that stopped half way
      pending_.clear();
      co_return make_error_code(TransportError::frame_error);
    }
    if (auto failed = line_failed(ec, n)) co_return failed;
    deadline = Clock::now() + options_.char_timeout;
  }
}

}  // namespace estate::drivers
