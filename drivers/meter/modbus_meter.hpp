// Modbus meter reads: a model's points (config/models) with the fewest requests (adjacent
// registers coalesced up to the model's max_registers), decoded with the codec's register map.
// The same over any ModbusMaster (libmodbus, or RTU frames over a Link): same requests, values
// and errors.
// Thread-safety: on the bus strand (libmodbus's ModbusClient does its blocking calls on its
// worker).
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>

#include <vector>

#include "drivers/transports/modbus_master.hpp"
#include "protocols/modbus/register_map.hpp"

namespace estate::drivers::modbus {

struct PointReading {
  const protocols::modbus::PointDef* point = nullptr;
  protocols::modbus::Decimal value;  // exact (register_map.hpp says how each type is read)
};

// Reads every point of `model` from `unit`. `requests` (if given) counts the requests sent.
boost::asio::awaitable<boost::system::error_code> read_model(
    ModbusMaster& client, int unit, const protocols::modbus::ModelDef& model,
    std::vector<PointReading>& out, int* requests = nullptr);

}  // namespace estate::drivers::modbus
