// A barrier driven through an I/O module over Modbus: the relay that opens it is a coil
// (function 5; 1 = open, 0 = close) and the vehicle presence loop is a discrete input
// (function 2; 1 = a vehicle is on the loop).
//
// Never closes on a vehicle: a close is held while the loop reads occupied, and retried on every
// poll until it clears. A loop that cannot be read counts as occupied (fail safe). A barrier
// opened for a vehicle closes once that vehicle has driven over the loop and cleared it, or
// after `open_timeout` when no vehicle came. Opens given while it is already open are counted:
// it closes after as many passages. With `anti_tailgate`, ready_for_credential() is false from
// an open until the loop has cleared behind the vehicle, so the caller refuses the next
// credential meanwhile. A write that fails is repeated on the next poll.
//
// Thread-safety: open()/close()/stop() may be called from any thread (they post to the strand);
// ready_for_credential()/loop_occupied()/relay_open() read atomics. The event callback runs on
// the strand and must not block.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <string_view>

#include "drivers/transports/modbus_client.hpp"

namespace estate::drivers::gate {

struct BarrierSettings {
  std::string id;                               // the gate's device id, for logs and events
  int unit = 1;                                 // Modbus unit of the I/O module
  int relay_coil = 0;                           // coil address (0-based PDU address)
  int loop_input = -1;                          // discrete input address; -1: no loop
  std::chrono::milliseconds loop_poll{100};     // how often the loop is read
  std::chrono::milliseconds open_timeout{30000};  // close when no vehicle came in this time
  bool anti_tailgate = false;
};

enum class BarrierEventKind {
  opened,          // the relay coil was written 1
  closed,          // the relay coil was written 0
  close_held,      // a close is due but the loop is occupied (once per hold)
  vehicle_arrived, // the loop went occupied while open
  vehicle_passed,  // the loop went occupied -> clear while open
  fault,           // a Modbus write or read failed (detail says which)
};

struct BarrierEvent {
  BarrierEventKind kind;
  std::string detail;
};

std::string_view to_string(BarrierEventKind k);

class ModbusBarrier : public std::enable_shared_from_this<ModbusBarrier> {
 public:
  // `client` must outlive the barrier and complete on `strand`.
  ModbusBarrier(boost::asio::any_io_executor strand, ModbusClient& client, BarrierSettings settings,
                std::function<void(const BarrierEvent&)> on_event);

  // Starts polling the loop; writes the coil 0 (closed) unless the loop is occupied.
  void start();
  // Stops polling; leaves the relay as it is (a daemon restart must not drop a barrier on a car).
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
  ModbusClient& client_;
  BarrierSettings settings_;
  std::function<void(const BarrierEvent&)> on_event_;
  boost::asio::steady_timer timer_;

  // Strand only.
  bool stopped_ = false;
  bool want_open_ = false;       // the state the relay should be in
  bool written_ = false;         // the relay holds want_open_ (last write succeeded)
  bool writing_ = false;
  bool close_pending_ = false;
  bool held_reported_ = false;
  bool write_fault_ = false;
  bool vehicle_on_loop_ = false;  // occupied seen since the open
  int passages_due_ = 0;          // opens not yet followed by a passage
  std::chrono::steady_clock::time_point open_deadline_{};

  std::atomic<bool> ready_{true};
  std::atomic<bool> occupied_{true};  // unknown until the first read: assume a vehicle
  std::atomic<bool> relay_open_{false};
};

// "io-1:3" -> {"io-1", 3}; nullopt when there is no ':' or the number is not 0..65535.
std::optional<std::pair<std::string, int>> parse_io_point(std::string_view text);

}  // namespace estate::drivers::gate
