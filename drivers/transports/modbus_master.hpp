// What a Modbus meter driver or technician tool needs of a Modbus master, whatever carries the
// frames: ModbusClient (libmodbus: RTU on a serial line, Modbus TCP) or ModbusRtuMaster (RTU
// frames over a Link: "RTU over TCP" through a serial device server). Both give the same
// values, the same error codes (TransportError values; exception answers as modbus_category()
// codes, as modbus_error() maps libmodbus's EMBX* errno) and count the same way. One difference:
// an answer that stops half way is a frame_error from ModbusRtuMaster (the Link saw bytes), a
// timeout from libmodbus; both are device faults to the circuit breaker.
// Thread-safety: a master belongs to its bus strand; read/write_single complete on it.
#pragma once

#include <utility>  // before Asio's awaitable (Boost 1.74 uses std::exchange without it)

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace estate::drivers {

// Modbus tables by the function code that reads them (Modbus Application Protocol V1.1b3 §6).
enum class ModbusTable { coils = 1, discrete_inputs = 2, holding_registers = 3, input_registers = 4 };

// requests: requests sent; timeouts: no answer in time; checksum_errors: answers with a bad
// CRC; errors: every other failed request (garbled or wrong answers, exception answers, a
// connection lost mid-request). A request that could not be sent (not connected) is not counted.
struct ModbusCounters {
  std::atomic<std::uint64_t> requests{0}, timeouts{0}, checksum_errors{0}, errors{0};
};

class ModbusMaster {
 public:
  virtual ~ModbusMaster() = default;
  // Reads `count` registers (tables 3/4; at most 125) or bits (tables 1/2; at most 2000) from
  // `unit`. Registers come back as 16-bit words, bits as 0/1 words; `out` is empty on error.
  // unsupported: arguments out of range (nothing sent).
  virtual boost::asio::awaitable<boost::system::error_code> read(int unit, ModbusTable table,
                                                                 int address, int count,
                                                                 std::vector<std::uint16_t>& out) = 0;
  // Writes one coil (function 5) or one holding register (function 6).
  virtual boost::asio::awaitable<boost::system::error_code> write_single(int unit, ModbusTable table,
                                                                         int address,
                                                                         std::uint16_t value) = 0;
  virtual const ModbusCounters& counters() const = 0;
  // "modbus tcp 10.0.0.5:502", "modbus rtu /dev/ttyUSB0 9600 8N1", "modbus rtu-over-tcp ...".
  virtual std::string describe() const = 0;
};

}  // namespace estate::drivers
