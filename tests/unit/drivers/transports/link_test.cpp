// Link over a scripted byte stream: answers that come whole, in pieces, half, late or not at
// all; garbage before a frame; the adapter's echo; unsolicited frames back to back; a line that
// fails and is reopened only after its backoff; and the backoff's bounds.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include "drivers/transports/backoff.hpp"
#include "drivers/transports/link.hpp"
#include "tests/unit/drivers/transports/scripted_stream.hpp"

namespace estate::drivers {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using test_support::ScriptedStream;

// Frames for the tests: 0x68 len payload... 0x16, with a sum check before the end mark.
FrameScan scan_test_frame(std::span<const std::uint8_t> b) {
  FrameScan r;
  if (b.empty()) return r;
  if (b[0] != 0x68) {
    r.status = FrameScan::Status::invalid;
    r.skip = 1;
    return r;
  }
  if (b.size() < 2) return r;
  const std::size_t total = 2 + b[1] + 2;
  if (b.size() < total) return r;
  std::uint8_t sum = 0;
  for (std::size_t i = 2; i < 2 + static_cast<std::size_t>(b[1]); ++i) sum = static_cast<std::uint8_t>(sum + b[i]);
  if (b[total - 1] != 0x16) {
    r.status = FrameScan::Status::invalid;
    r.skip = 1;
  } else if (b[total - 2] != sum) {
    r.status = FrameScan::Status::bad_checksum;
    r.skip = total;
  } else {
    r.status = FrameScan::Status::complete;
    r.length = total;
  }
  return r;
}

Bytes frame(Bytes payload) {
  Bytes f{0x68, static_cast<std::uint8_t>(payload.size())};
  std::uint8_t sum = 0;
  for (auto b : payload) sum = static_cast<std::uint8_t>(sum + b);
  f.insert(f.end(), payload.begin(), payload.end());
  f.push_back(sum);
  f.push_back(0x16);
  return f;
}

class LinkTest : public ::testing::Test {
 protected:
  LinkTest() : strand_(asio::make_strand(io_)) {
    auto s = std::make_unique<ScriptedStream>(strand_);
    stream_ = s.get();
    LinkOptions o;
    o.answer_timeout = 150ms;
    o.char_timeout = 60ms;
    o.reconnect_base = 300ms;
    o.reconnect_cap = 1000ms;
    link_ = std::make_unique<Link>(strand_, std::move(s), o, 42);
  }

  template <class F>
  auto run(F f) {
    auto fut = asio::co_spawn(strand_, f(), asio::use_future);
    io_.restart();
    io_.run();
    return fut.get();
  }

  error_code transact(const Bytes& request, Bytes& answer) {
    return run([&]() -> asio::awaitable<error_code> {
      co_return co_await link_->transact(request, scan_test_frame, answer);
    });
  }

  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> strand_;
  ScriptedStream* stream_ = nullptr;
  std::unique_ptr<Link> link_;
};

TEST_F(LinkTest, AnswerInOnePieceAndInSeveral) {
  const Bytes answer = frame({1, 2, 3, 4});
  stream_->replies.push_back({{5ms, answer}});
  Bytes got;
  EXPECT_FALSE(transact({0x10}, got));
  EXPECT_EQ(got, answer);
  // The same answer split over three reads, each within the character timeout.
  stream_->replies.push_back({{5ms, Bytes(answer.begin(), answer.begin() + 2)},
                              {20ms, Bytes(answer.begin() + 2, answer.begin() + 5)},
                              {20ms, Bytes(answer.begin() + 5, answer.end())}});
  EXPECT_FALSE(transact({0x11}, got));
  EXPECT_EQ(got, answer);
  EXPECT_EQ(link_->counters().answers, 2u);
  EXPECT_EQ(link_->counters().requests, 2u);
  EXPECT_EQ(stream_->written, (std::vector<Bytes>{{0x10}, {0x11}}));
}

TEST_F(LinkTest, SilenceIsATimeout) {
  Bytes got;
  EXPECT_EQ(transact({0x10}, got), TransportError::timeout);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(link_->counters().timeouts, 1u);
  EXPECT_EQ(link_->counters().frame_errors, 0u);
}

TEST_F(LinkTest, HalfAnAnswerIsAFrameErrorNotATimeout) {
  const Bytes answer = frame({9, 9, 9, 9, 9, 9});
  // The tail comes long after the character timeout, while the line is idle.
  stream_->replies.push_back({{5ms, Bytes(answer.begin(), answer.begin() + 4)},
                              {150ms, Bytes(answer.begin() + 4, answer.end())}});
  Bytes got;
  EXPECT_EQ(transact({0x10}, got), TransportError::frame_error);
  EXPECT_EQ(link_->counters().frame_errors, 1u);
  EXPECT_EQ(link_->counters().timeouts, 0u);
  // The stale tail is not taken for the next answer: that transaction fails and flushes the
  // line, and the one after it reads its own answer.
  EXPECT_EQ(transact({0x11}, got), TransportError::frame_error);
  stream_->replies.push_back({{5ms, frame({7})}});
  EXPECT_FALSE(transact({0x12}, got));
  EXPECT_EQ(got, frame({7}));
}

TEST_F(LinkTest, AnswerTooSlowBetweenBytesIsCutOff) {
  const Bytes answer = frame({1, 2, 3});
  // The second half comes later than the character timeout (60 ms) allows.
  stream_->replies.push_back({{5ms, Bytes(answer.begin(), answer.begin() + 3)},
                              {120ms, Bytes(answer.begin() + 3, answer.end())}});
  Bytes got;
  EXPECT_EQ(transact({0x10}, got), TransportError::frame_error);
}

TEST_F(LinkTest, BadChecksumAndGarbageAreCounted) {
  Bytes bad = frame({1, 2});
  bad[bad.size() - 2] ^= 0xFF;
  stream_->replies.push_back({{5ms, bad}});
  Bytes got;
  EXPECT_EQ(transact({0x10}, got), TransportError::checksum_error);
  EXPECT_EQ(link_->counters().checksum_errors, 1u);
  stream_->replies.push_back({{5ms, Bytes{0x00, 0xFF, 0x13}}});
  EXPECT_EQ(transact({0x11}, got), TransportError::frame_error);
  EXPECT_EQ(link_->counters().frame_errors, 1u);
}

TEST_F(LinkTest, EchoIsDroppedBeforeTheAnswer) {
  LinkOptions o = link_->options();
  o.echo = true;
  link_->set_options(o);
  const Bytes request{0x10, 0x20, 0x30};
  const Bytes answer = frame({5});
  Bytes both = request;
  both.insert(both.end(), answer.begin(), answer.end());
  stream_->replies.push_back({{5ms, both}});
  Bytes got;
  EXPECT_FALSE(transact(request, got));
  EXPECT_EQ(got, answer);
  // An echo that differs from what was sent: the line is garbled.
  stream_->replies.push_back({{5ms, Bytes{0x10, 0x21, 0x30}}});
  EXPECT_EQ(transact(request, got), TransportError::frame_error);
}

TEST_F(LinkTest, ReceiveKeepsTheSecondOfTwoFramesAndDropsAStalledOne) {
  auto receive = [&](Bytes& out) {
    return run([&]() -> asio::awaitable<error_code> {
      co_return co_await link_->receive(scan_test_frame, out, 100ms);
    });
  };
  Bytes got;
  EXPECT_EQ(receive(got), TransportError::timeout);  // a quiet line
  Bytes two = frame({1});
  const Bytes second = frame({2, 2});
  two.insert(two.end(), second.begin(), second.end());
  stream_->inject(two);
  EXPECT_FALSE(receive(got));
  EXPECT_EQ(got, frame({1}));
  EXPECT_FALSE(receive(got));
  EXPECT_EQ(got, second);
  // Garbage first: dropped (one error), then the frame behind it.
  Bytes noisy{0xAA, 0xBB};
  const Bytes f = frame({3});
  noisy.insert(noisy.end(), f.begin(), f.end());
  stream_->inject(noisy);
  EXPECT_EQ(receive(got), TransportError::frame_error);
  EXPECT_EQ(receive(got), TransportError::frame_error);
  EXPECT_FALSE(receive(got));
  EXPECT_EQ(got, f);
  // Half a frame whose rest never comes: dropped after the character timeout.
  stream_->inject(Bytes{0x68, 0x04, 0x01});
  EXPECT_EQ(receive(got), TransportError::frame_error);
  EXPECT_EQ(receive(got), TransportError::timeout);
}

TEST_F(LinkTest, AFailedLineIsReopenedOnlyAfterItsBackoff) {
  stream_->open_results.push_back(make_error_code(boost::system::errc::no_such_device));
  Bytes got;
  EXPECT_EQ(transact({0x10}, got), boost::system::errc::no_such_device);
  EXPECT_EQ(link_->counters().open_failures, 1u);
  // Within the backoff (at least 300 ms) the line is not tried again.
  EXPECT_EQ(transact({0x10}, got), TransportError::not_connected);
  EXPECT_EQ(stream_->opens, 1);
  // Once the backoff has passed (polled with a deadline, not a guessed sleep) it reopens.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  error_code ec = make_error_code(TransportError::not_connected);
  stream_->replies.push_back({{5ms, frame({1})}});
  while (ec == TransportError::not_connected && std::chrono::steady_clock::now() < deadline) {
    asio::steady_timer t(io_, 20ms);
    t.wait();
    ec = transact({0x10}, got);
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(stream_->opens, 2);
  // A read error on the open line closes it; the next transaction waits for the backoff again.
  stream_->fail_next_read = true;
  EXPECT_EQ(transact({0x11}, got), asio::error::connection_reset);
  EXPECT_FALSE(link_->is_open());
  EXPECT_EQ(transact({0x11}, got), TransportError::not_connected);
}

// The lines' plain schedule (base, cap): no fast phase, decorrelated jitter from the first failure
// (the schedule itself: backoff_test.cpp).
TEST(Backoff, APlainScheduleGrowsDecorrelatedUpToTheCap) {
  Backoff b(100ms, 1000ms, 7);
  for (int round = 0; round < 2; ++round) {
    std::chrono::milliseconds previous = 100ms, largest{0};
    for (int attempt = 0; attempt < 30; ++attempt) {
      const auto d = b.next();
      EXPECT_GE(d.count(), 100) << "attempt " << attempt;
      EXPECT_LE(d, std::min<std::chrono::milliseconds>(1000ms, previous * 3)) << "attempt " << attempt;
      previous = d;
      largest = std::max(largest, d);
    }
    EXPECT_EQ(largest, 1000ms) << "thirty failures reach the cap";
    EXPECT_EQ(b.attempts(), 30);
    b.reset();
    EXPECT_EQ(b.attempts(), 0);
    EXPECT_LE(b.next(), 300ms) << "after a reset the first delay is at most 3 x base again";
    b.reset();
  }
  // Jitter: two peers with different seeds do not retry in lockstep.
  Backoff x(100ms, 60000ms, 1), y(100ms, 60000ms, 2);
  int same = 0;
  for (int i = 0; i < 12; ++i) same += x.next() == y.next();
  EXPECT_LT(same, 12);
}

}  // namespace
}  // namespace estate::drivers
