// A byte stream whose far end is a script, for tests of what runs on a Link: each write is
// answered by the next reply's chunks, each delivered after its delay; bytes can also be
// injected unasked, opens refused, and a read failed.
// Thread-safety: none; used on the strand of the Link under test.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "drivers/transports/stream.hpp"

namespace estate::drivers::test_support {

namespace asio = boost::asio;
using Bytes = std::vector<std::uint8_t>;

class ScriptedStream final : public ByteStream {
 public:
  struct Chunk {
    std::chrono::milliseconds after;
    Bytes bytes;
  };
  explicit ScriptedStream(asio::any_io_executor ex) : ex_(ex) {}

  std::deque<std::vector<Chunk>> replies;
  // When set, answers each write in place of `replies` (a far end that reacts to what it gets).
  std::function<std::vector<Chunk>(const Bytes&)> on_write;
  std::vector<Bytes> written;
  std::vector<std::chrono::steady_clock::time_point> written_at;
  std::deque<boost::system::error_code> open_results;  // empty: opens fine
  int opens = 0;
  bool fail_next_read = false;

  void inject(Bytes b) {
    inbound_.insert(inbound_.end(), b.begin(), b.end());
    deliver();
  }

  void async_open(Handler h) override {
    ++opens;
    boost::system::error_code ec;
    if (!open_results.empty()) {
      ec = open_results.front();
      open_results.pop_front();
    }
    open_ = !ec;
    asio::post(ex_, [h, ec] { h(ec); });
  }
  void async_write(std::span<const std::uint8_t> bytes, Handler h) override {
    written.emplace_back(bytes.begin(), bytes.end());
    written_at.push_back(std::chrono::steady_clock::now());
    if (on_write || !replies.empty()) {
      std::vector<Chunk> chunks;
      if (on_write) {
        chunks = on_write(written.back());
      } else {
        chunks = std::move(replies.front());
        replies.pop_front();
      }
      std::chrono::milliseconds at{0};
      for (auto& c : chunks) {
        at += c.after;
        auto t = std::make_shared<asio::steady_timer>(ex_, at);
        t->async_wait([this, t, b = c.bytes](boost::system::error_code ec) {
          if (!ec) inject(b);
        });
      }
    }
    asio::post(ex_, [h] { h({}); });
  }
  void async_read_some(asio::mutable_buffer buf, ReadHandler h) override {
    if (fail_next_read) {
      fail_next_read = false;
      asio::post(ex_, [h] { h(asio::error::connection_reset, 0); });
      return;
    }
    read_buf_ = buf;
    read_ = std::move(h);
    deliver();
  }
  void cancel() override {
    if (read_) {
      auto h = std::move(read_);
      read_ = nullptr;
      asio::post(ex_, [h] { h(asio::error::operation_aborted, 0); });
    }
  }
  void close() override {
    cancel();
    open_ = false;
  }
  bool is_open() const override { return open_; }
  std::string describe() const override { return "scripted"; }
  asio::any_io_executor get_executor() override { return ex_; }

 private:
  void deliver() {
    if (!read_ || inbound_.empty()) return;
    const std::size_t n = std::min(read_buf_.size(), inbound_.size());
    std::copy_n(inbound_.begin(), n, static_cast<std::uint8_t*>(read_buf_.data()));
    inbound_.erase(inbound_.begin(), inbound_.begin() + static_cast<std::ptrdiff_t>(n));
    auto h = std::move(read_);
    read_ = nullptr;
    asio::post(ex_, [h, n] { h({}, n); });
  }

  asio::any_io_executor ex_;
  bool open_ = false;
  std::deque<std::uint8_t> inbound_;
  asio::mutable_buffer read_buf_;
  ReadHandler read_;
};

}  // namespace estate::drivers::test_support
