// Modbus RTU master over a Link: RTU frames (protocols/modbus/rtu.hpp) on a byte stream, for
// serial device servers that pass a line's bytes through a TCP connection ("RTU over TCP"),
// which libmodbus 3.1 has no backend for. The Link keeps the t3.5 silence between frames
// (link_options() sets min_gap for Modbus), bounds the answer and the pauses inside it,
// reopens a lost connection with backoff and flushes the rest of a garbled answer. An answer
// is taken as long as the request and its first bytes say (scan_answer) and then checked:
// CRC (checksum_error), unit (bad_answer), function, byte count or echo (frame_error), and an
// exception answer becomes the code modbus_exception_error() gives, as with libmodbus.
// Line errors come back as TransportError::closed. Counters as ModbusClient's.
// Thread-safety: none; used on the strand of its Link.
#pragma once

#include <span>

#include "drivers/transports/link.hpp"
#include "drivers/transports/modbus_master.hpp"

namespace estate::drivers {

class ModbusRtuMaster final : public ModbusMaster {
 public:
  // `link` outlives the master.
  explicit ModbusRtuMaster(Link& link);

  boost::asio::awaitable<boost::system::error_code> read(int unit, ModbusTable table, int address,
                                                         int count,
                                                         std::vector<std::uint16_t>& out) override;
  // Unit 0 is a broadcast: sent, nothing awaited.
  boost::asio::awaitable<boost::system::error_code> write_single(int unit, ModbusTable table,
                                                                 int address,
                                                                 std::uint16_t value) override;
  const ModbusCounters& counters() const override { return counters_; }
  std::string describe() const override { return "modbus rtu over " + link_.describe(); }

 private:
  boost::asio::awaitable<boost::system::error_code> transact(std::span<const std::uint8_t> request,
                                                             std::vector<std::uint16_t>* values);
  void count(const boost::system::error_code& ec);

  Link& link_;
  ModbusCounters counters_;
};

// The Link frame scanner for the answer to an RTU `request` (the request must outlive it):
// complete once the answer's length is known and received and its CRC checks; invalid when the
// function byte cannot answer the request; bad_checksum for a frame whose CRC does not match.
FrameScanner modbus_rtu_scanner(std::span<const std::uint8_t> request);

}  // namespace estate::drivers
