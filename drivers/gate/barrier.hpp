// A barrier at a gate: the arm that opens for a vehicle and the vehicle presence loop under it,
// whatever drives them (BarrierIo): a relay coil and a discrete input on a Modbus I/O module
// (modbus_barrier.hpp), or a serial barrier controller (serial_barrier.hpp).
//
// Never closes on a vehicle: a close is held while the loop reads occupied, and retried on every
// poll until it clears. A loop that cannot be read counts as occupied (fail safe). A barrier
// opened for a vehicle closes once that vehicle has driven over the loop and cleared it, or
// after `open_timeout` when no vehicle came. Opens given while it is already open are counted:
// it closes after as many passages. With `anti_tailgate`, ready_for_credential() is false from
// an open until the loop has cleared behind the vehicle, so the caller refuses the next
// credential meanwhile. A drive command that fails is repeated on the next poll.
//
// Thread-safety: open()/close()/start()/stop() may be called from any thread (they post to the
// strand); ready_for_credential()/loop_occupied()/relay_open() read atomics. The event callback
// runs on the strand and must not block.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace estate::drivers::gate {

// What drives a barrier. Completions run on the barrier's strand; one call of each at a time.
class BarrierIo {
 public:
  using LoopHandler = std::function<void(boost::system::error_code, bool occupied)>;
  using DriveHandler = std::function<void(boost::system::error_code)>;
  virtual ~BarrierIo() = default;
  // False when there is no presence loop: the barrier closes on its open timeout only.
  virtual bool has_loop() const = 0;
  // Reads the presence loop now (a fresh reading, never a cached one).
  virtual void read_loop(LoopHandler done) = 0;
  // Raises (open) or lowers (!open) the arm; done once the device has taken the command.
  virtual void drive(bool open, DriveHandler done) = 0;
};

struct BarrierSettings {
  std::string id;                               // the gate's device id, for logs and events
  std::chrono::milliseconds loop_poll{100};     // how often the loop is read
  std::chrono::milliseconds open_timeout{30000};  // close when no vehicle came in this time
  bool anti_tailgate = false;
};

enum class BarrierEventKind {
  opened,          // the arm was driven open
  closed,          // the arm was driven closed
  close_held,      // a close is due but the loop is occupied (once per hold)
  vehicle_arrived, // the loop went occupied while open
  vehicle_passed,  // the loop went occupied -> clear while open
  fault,           // a drive command or a loop read failed (detail says which)
};

struct BarrierEvent {
  BarrierEventKind kind;
  std::string detail;
};

std::string_view to_string(BarrierEventKind k);

class Barrier : public std::enable_shared_from_this<Barrier> {
 public:
  // `io` completes on `strand`.
  Barrier(boost::asio::any_io_executor strand, std::shared_ptr<BarrierIo> io,
          BarrierSettings settings, std::function<void(const BarrierEvent&)> on_event);

  // Starts polling the loop; closes the arm unless the loop is occupied.
  void start();
  // Stops polling; leaves the arm as it is (a daemon restart must not drop a barrier on a car).
  void stop();
  void open();
  // Requests a close; held while the loop is occupied.
  void close();

  bool ready_for_credential() const { return ready_.load(); }
  bool loop_occupied() const { return occupied_.load(); }
  bool relay_open() const { return relay_open_.load(); }
  const BarrierSettings& settings() const { return settings_; }

 private:
  void poll();
  void schedule_poll();
  void on_loop(bool occupied);
  void try_close();
  void write_relay(bool open);
  void emit(BarrierEventKind kind, std::string detail = {});

  boost::asio::any_io_executor strand_;
  std::shared_ptr<BarrierIo> io_;
  BarrierSettings settings_;
  std::function<void(const BarrierEvent&)> on_event_;
  boost::asio::steady_timer timer_;

  // Strand only.
  bool stopped_ = false;
  bool want_open_ = false;       // the state the arm should be in
  bool written_ = false;         // the arm was driven to want_open_ (last command succeeded)
  bool writing_ = false;
  bool close_pending_ = false;
  bool held_reported_ = false;
  bool write_fault_ = false;
  bool drive_reported_ = false;   // a drive's outcome was reported since the start
  bool vehicle_on_loop_ = false;  // occupied seen since the open
  int passages_due_ = 0;          // opens not yet followed by a passage
  std::chrono::steady_clock::time_point open_deadline_{};

  std::atomic<bool> ready_{true};
  std::atomic<bool> occupied_{true};  // unknown until the first read: assume a vehicle
  std::atomic<bool> relay_open_{false};
};

}  // namespace estate::drivers::gate
