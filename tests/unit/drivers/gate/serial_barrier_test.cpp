// Serial barrier controllers: the frame table (requests and answers of each model, captured
// bytes, check bytes, noise before a frame, refusals), the controller line over a scripted
// byte stream (one command at a time, answers from another address, a refusal, a fault), and
// the gate logic of Barrier on a controller: the arm is not lowered while the controller's
// loop reports a vehicle, and is once the vehicle has passed.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "drivers/gate/barrier.hpp"
#include "drivers/gate/barrier_frames.hpp"
#include "drivers/gate/serial_barrier.hpp"
#include "protocols/common/hex.hpp"
#include "tests/unit/drivers/transports/scripted_stream.hpp"

namespace estate::drivers::gate {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using test_support::ScriptedStream;

Bytes hex(const std::string& t) { return *protocols::parse_hex(t); }

const ControllerFormat& generic() { return *find_controller_format("generic-485"); }
const ControllerFormat& aa55() { return *find_controller_format("aa55-sum"); }

TEST(BarrierFrames, RequestsOfEachModel) {
  // STX addr 'O' BCC(addr ^ 'O') ETX.
  EXPECT_EQ(encode_request(generic(), 2, ControllerCommand::open), hex("02024f4d03"));
  EXPECT_EQ(encode_request(generic(), 2, ControllerCommand::close), hex("0202434103"));
  EXPECT_EQ(encode_request(generic(), 2, ControllerCommand::status), hex("0202535103"));
  // AA 55 addr cmd SUM8(addr + cmd).
  EXPECT_EQ(encode_request(aa55(), 7, ControllerCommand::open), hex("aa55070108"));
  EXPECT_EQ(encode_request(aa55(), 7, ControllerCommand::status), hex("aa55071017"));
  EXPECT_EQ(find_controller_format("nope"), nullptr);
  EXPECT_EQ(known_controller_models(), "generic-485, aa55-sum");
}

TEST(BarrierFrames, AnswersDecodeToLoopArmAndFault) {
  std::string why;
  // generic-485: 's' with status 0x05 = loop occupied, arm down.
  auto a = decode_answer(generic(), ControllerCommand::status, hex("0202730574" "03"), why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->address, 2);
  EXPECT_FALSE(a->refused);
  EXPECT_TRUE(a->status.loop_occupied);
  EXPECT_EQ(a->status.arm, ArmPosition::closed);
  EXPECT_FALSE(a->status.fault);
  // aa55-sum: 0x90 answers status; bits 0x41 = arm up and a fault, loop clear.
  a = decode_answer(aa55(), ControllerCommand::status, hex("aa55079041d8"), why);
  ASSERT_TRUE(a) << why;
  EXPECT_FALSE(a->status.loop_occupied);
  EXPECT_EQ(a->status.arm, ArmPosition::open);
  EXPECT_TRUE(a->status.fault);
  // Neither limit switch: moving. A refusal (NAK) carries the status too.
  ControllerStatus st{true, ArmPosition::moving, false};
  const auto nak = encode_answer(generic(), 3, ControllerCommand::close, st, true);
  EXPECT_EQ(nak, hex("0203150117" "03"));
  a = decode_answer(generic(), ControllerCommand::close, nak, why);
  ASSERT_TRUE(a) << why;
  EXPECT_TRUE(a->refused);
  EXPECT_EQ(a->status.arm, ArmPosition::moving);
  // The answer to another command is not this one's.
  EXPECT_FALSE(decode_answer(generic(), ControllerCommand::open,
                             encode_answer(generic(), 3, ControllerCommand::close, st), why));
  EXPECT_NE(why.find("does not answer"), std::string::npos) << why;
  // Round trip of every model and command.
  for (const auto* f : {&generic(), &aa55()}) {
    for (auto c : {ControllerCommand::open, ControllerCommand::close, ControllerCommand::status}) {
      for (auto arm : {ArmPosition::open, ArmPosition::closed, ArmPosition::moving}) {
        const ControllerStatus s{arm == ArmPosition::moving, arm, arm == ArmPosition::open};
        auto b = encode_answer(*f, 9, c, s);
        auto r = answer_scanner(*f)(b);
        ASSERT_EQ(r.status, FrameScan::Status::complete) << f->model;
        auto d = decode_answer(*f, c, b, why);
        ASSERT_TRUE(d) << why;
        EXPECT_EQ(d->status.arm, arm);
        EXPECT_EQ(d->status.loop_occupied, s.loop_occupied);
        EXPECT_EQ(d->status.fault, s.fault);
      }
    }
  }
}

TEST(BarrierFrames, ScannerSkipsNoiseAndChecksTheFrame) {
  const auto scan = answer_scanner(generic());
  const auto good = hex("0202730574" "03");
  auto noisy = hex("ff00");
  noisy.insert(noisy.end(), good.begin(), good.end());
  auto r = scan(noisy);
  EXPECT_EQ(r.status, FrameScan::Status::complete);
  EXPECT_EQ(r.skip, 2u);
  EXPECT_EQ(r.length, good.size());
  r = scan(std::span(good).first(4));
  EXPECT_EQ(r.status, FrameScan::Status::need_more);
  r = scan(hex("0202730575" "03"));
  EXPECT_EQ(r.status, FrameScan::Status::bad_checksum);
  r = scan(hex("0202730574" "04"));
  EXPECT_EQ(r.status, FrameScan::Status::invalid);
  // Two-byte header: a lone 0xAA is noise.
  r = answer_scanner(aa55())(hex("aaaa55079041d8"));
  EXPECT_EQ(r.status, FrameScan::Status::complete);
  EXPECT_EQ(r.skip, 1u);
}

class ControllerLineTest : public ::testing::Test {
 protected:
  ControllerLineTest() : strand_(asio::make_strand(io_)) {
    auto s = std::make_unique<ScriptedStream>(strand_);
    stream_ = s.get();
    LinkOptions o;
    o.answer_timeout = 150ms;
    o.char_timeout = 60ms;
    line_ = std::make_shared<BarrierControllerLine>(strand_, std::move(s), generic(), o);
  }
  // Runs `command` on the strand and the io_context until it is answered.
  std::pair<error_code, ControllerStatus> command(int address, ControllerCommand c) {
    std::pair<error_code, ControllerStatus> out;
    asio::post(strand_, [&] {
      line_->transact(address, c, [&](error_code ec, const ControllerStatus& st) { out = {ec, st}; });
    });
    io_.restart();
    io_.run();
    return out;
  }
  void reply(Bytes b) { stream_->replies.push_back({{5ms, std::move(b)}}); }

  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> strand_;
  ScriptedStream* stream_ = nullptr;
  std::shared_ptr<BarrierControllerLine> line_;
};

TEST_F(ControllerLineTest, CommandsAreAnsweredWithTheStatus) {
  reply(encode_answer(generic(), 2, ControllerCommand::status, {true, ArmPosition::closed, false}));
  auto [ec, st] = command(2, ControllerCommand::status);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(st.loop_occupied);
  EXPECT_EQ(st.arm, ArmPosition::closed);
  EXPECT_EQ(stream_->written.back(), hex("0202535103"));
  // Answer from another controller on the line.
  reply(encode_answer(generic(), 4, ControllerCommand::open, {false, ArmPosition::open, false}));
  EXPECT_EQ(command(2, ControllerCommand::open).first, TransportError::bad_answer);
  // A refusal.
  reply(encode_answer(generic(), 2, ControllerCommand::close, {true, ArmPosition::open, false}, true));
  EXPECT_EQ(command(2, ControllerCommand::close).first, TransportError::device_error);
  // Nobody answers.
  EXPECT_EQ(command(5, ControllerCommand::status).first, TransportError::timeout);
  const auto c = line_->counters();
  EXPECT_EQ(c.commands, 4u);
  EXPECT_EQ(c.failures, 3u);
  EXPECT_EQ(c.refusals, 1u);
}

TEST_F(ControllerLineTest, CommandsOfSeveralBarriersGoOneAtATime) {
  for (int a : {1, 2, 3}) {
    reply(encode_answer(generic(), a, ControllerCommand::status, {false, ArmPosition::closed, false}));
  }
  std::vector<int> answered;
  asio::post(strand_, [&] {
    for (int a : {1, 2, 3}) {
      line_->transact(a, ControllerCommand::status, [&, a](error_code ec, const ControllerStatus&) {
        if (!ec) answered.push_back(a);
      });
    }
  });
  io_.run();
  EXPECT_EQ(answered, (std::vector<int>{1, 2, 3}));
  ASSERT_EQ(stream_->written.size(), 3u);
  EXPECT_EQ(stream_->written[1], encode_request(generic(), 2, ControllerCommand::status));
}

// Barrier's gate logic on a controller whose answers follow the scene: a vehicle drives onto
// the loop after the open, a close is asked for while it is there, then it leaves.
TEST_F(ControllerLineTest, CloseIsHeldWhileTheControllerReportsAVehicle) {
  auto io = std::make_shared<SerialBarrierIo>(line_, 2);
  std::vector<BarrierEventKind> events;
  BarrierSettings bs;
  bs.id = "gate-x";
  bs.loop_poll = 20ms;
  auto barrier = std::make_shared<Barrier>(strand_, io, bs, [&](const BarrierEvent& e) {
    events.push_back(e.kind);
  });
  // The scene: a vehicle on the loop after the open, for several polls, then gone. Every
  // command is answered with the scene's status.
  bool vehicle = false;
  bool arm_up = false;
  std::vector<std::pair<bool, bool>> closes_seen;  // (loop occupied, close command) per frame
  stream_->on_write = [&](const Bytes& req) {
    const bool open = req == encode_request(generic(), 2, ControllerCommand::open);
    const bool close = req == encode_request(generic(), 2, ControllerCommand::close);
    if (open) arm_up = true;
    if (close) {
      closes_seen.push_back({vehicle, true});
      arm_up = false;
    }
    const auto c = open ? ControllerCommand::open : close ? ControllerCommand::close : ControllerCommand::status;
    return std::vector<ScriptedStream::Chunk>{
        {2ms, encode_answer(generic(), 2, c, {vehicle, arm_up ? ArmPosition::open : ArmPosition::closed, false})}};
  };
  barrier->start();
  barrier->open();
  asio::steady_timer t(strand_);
  int step = 0;
  std::function<void(error_code)> scene = [&](error_code) {
    ++step;
    if (step == 3) vehicle = true;                    // the car drives onto the loop
    if (step == 5) barrier->close();                  // a guard's close while it is there
    if (step == 10) vehicle = false;                  // and leaves it
    if (step == 16) {
      barrier->stop();
      return;
    }
    t.expires_after(30ms);
    t.async_wait(scene);
  };
  t.expires_after(30ms);
  t.async_wait(scene);
  io_.run();
  ASSERT_FALSE(closes_seen.empty());
  for (const auto& [occupied, close] : closes_seen) EXPECT_FALSE(occupied) << "closed on a vehicle";
  EXPECT_NE(std::find(events.begin(), events.end(), BarrierEventKind::opened), events.end());
  EXPECT_NE(std::find(events.begin(), events.end(), BarrierEventKind::vehicle_arrived), events.end());
  EXPECT_NE(std::find(events.begin(), events.end(), BarrierEventKind::close_held), events.end());
  EXPECT_NE(std::find(events.begin(), events.end(), BarrierEventKind::vehicle_passed), events.end());
  EXPECT_EQ(events.back(), BarrierEventKind::closed);
  EXPECT_EQ(io->arm_position(), ArmPosition::closed);
  EXPECT_FALSE(barrier->relay_open());
}

}  // namespace
}  // namespace estate::drivers::gate
