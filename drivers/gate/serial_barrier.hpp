// Serial (RS-485) barrier controllers: a `barrier` bus (a serial line, or a serial device server
// over TCP) with one or more controllers, each at its own address, speaking the line's frame
// format (barrier_frames.hpp). BarrierControllerLine owns the line and carries out one command
// at a time, in the order given (every barrier on the line polls its loop through it);
// SerialBarrierIo is one controller behind the BarrierIo interface, so the gate logic of
// Barrier (never close on a vehicle, anti-tailgate) is the same as with an I/O module.
//
// Every command is answered with the controller's status: the presence loop (what read_loop
// returns), the arm position and a fault flag. Errors: the Link's (timeout, frame_error,
// checksum_error, closed...), bad_answer for an answer from another address or to another
// command, device_error for a refusal (NAK) and, on a loop read, for a status with the fault
// flag set (a faulty controller's loop is not trusted: the barrier holds its close).
// Thread-safety: transact()/stop() and SerialBarrierIo run on the line's strand (the strand of
// the barriers on it); counters() and arm_position() from any thread.
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "drivers/gate/barrier.hpp"
#include "drivers/gate/barrier_frames.hpp"
#include "drivers/transports/link.hpp"

namespace estate::drivers::gate {

struct ControllerLineCounters {
  std::uint64_t commands = 0;
  std::uint64_t failures = 0;      // not answered properly (any error)
  std::uint64_t refusals = 0;      // NAK answers
};

class BarrierControllerLine : public std::enable_shared_from_this<BarrierControllerLine> {
 public:
  using Handler = std::function<void(boost::system::error_code, const ControllerStatus&)>;

  BarrierControllerLine(boost::asio::any_io_executor strand, std::unique_ptr<ByteStream> stream,
                        const ControllerFormat& format, LinkOptions options);

  // Queues `command` for the controller at `address`; `done` runs on the strand with the
  // answer's status. overloaded when `max_queue` commands wait already; cancelled once stopped.
  void transact(int address, ControllerCommand command, Handler done);
  // Fails what is queued (cancelled), lets the command on the wire finish, closes the line.
  void stop();

  ControllerLineCounters counters() const;
  const ControllerFormat& format() const { return format_; }
  std::string describe() const { return link_.describe(); }

  static constexpr std::size_t max_queue = 32;

 private:
  struct Pending {
    int address;
    ControllerCommand command;
    Handler done;
  };
  boost::asio::awaitable<void> drain();

  boost::asio::any_io_executor strand_;
  Link link_;
  const ControllerFormat& format_;
  std::deque<Pending> queue_;
  bool busy_ = false;
  bool stopped_ = false;
  mutable std::mutex mutex_;
  ControllerLineCounters counters_;
};

class SerialBarrierIo final : public BarrierIo {
 public:
  SerialBarrierIo(std::shared_ptr<BarrierControllerLine> line, int address)
      : line_(std::move(line)), address_(address) {}

  bool has_loop() const override { return true; }
  void read_loop(LoopHandler done) override;
  void drive(bool open, DriveHandler done) override;

  // The arm as the controller last reported it.
  ArmPosition arm_position() const { return arm_.load(); }

 private:
  std::shared_ptr<BarrierControllerLine> line_;
  int address_;
  std::atomic<ArmPosition> arm_{ArmPosition::unknown};
};

}  // namespace estate::drivers::gate
