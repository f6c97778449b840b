// A barrier driven through an I/O module over Modbus: the relay that opens it is a coil
// (function 5; 1 = open, 0 = close) and the vehicle presence loop is a discrete input
// (function 2; 1 = a vehicle is on the loop). The gate logic is Barrier's (barrier.hpp).
// Thread-safety: used on the strand the ModbusClient completes on (the I/O module's strand).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "drivers/gate/barrier.hpp"
#include "drivers/transports/modbus_client.hpp"

namespace estate::drivers::gate {

struct ModbusBarrierPoints {
  int unit = 1;         // Modbus unit of the I/O module
  int relay_coil = 0;   // coil address (0-based PDU address)
  int loop_input = -1;  // discrete input address; -1: no loop
};

class ModbusBarrierIo final : public BarrierIo {
 public:
  // `client` must outlive this and complete on the barrier's strand.
  ModbusBarrierIo(ModbusClient& client, ModbusBarrierPoints points)
      : client_(client), points_(points) {}

  bool has_loop() const override { return points_.loop_input >= 0; }
  void read_loop(LoopHandler done) override;
  void drive(bool open, DriveHandler done) override;

 private:
  ModbusClient& client_;
  ModbusBarrierPoints points_;
};

// "io-1:3" -> {"io-1", 3}; nullopt when there is no ':' or the number is not 0..65535.
std::optional<std::pair<std::string, int>> parse_io_point(std::string_view text);

}  // namespace estate::drivers::gate
