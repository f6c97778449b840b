#include "drivers/meter/modbus_meter.hpp"

#include <chrono>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "drivers/meter/meter_driver.hpp"
#include "drivers/meter/model_registry.hpp"

namespace estate::drivers {

namespace asio = boost::asio;
namespace p = protocols::modbus;
using boost::system::error_code;

namespace modbus {

asio::awaitable<error_code> read_model(ModbusMaster& client, int unit, const p::ModelDef& model,
                                       std::vector<PointReading>& out, int* requests) {
  out.clear();
  const auto plan = p::coalesce(model.points, model.function, model.max_registers);
  const auto table = model.function == p::RegisterFunction::input ? ModbusTable::input_registers
                                                                  : ModbusTable::holding_registers;
  for (const auto& req : plan) {
    std::vector<std::uint16_t> regs;
    const error_code ec = co_await client.read(unit, table, req.start, req.count, regs);
    if (requests) ++*requests;
    if (ec) co_return ec;
    auto values = p::decode_registers(model, req.start, regs);
    if (!values) {
      // The error code cannot carry which point failed (a bad BCD digit, a NaN, a value that
      // overflows with the model's scale): say it here, where it is known.
      spdlog::warn("{}: unit {}: {}", client.describe(), unit, values.error().describe());
      co_return make_error_code(TransportError::bad_answer);
    }
    for (const auto& v : *values) out.push_back({v.point, v.value});
  }
  co_return error_code{};
}

}  // namespace modbus

namespace {

class ModbusMeter final : public MeterDriver {
 public:
  ModbusMeter(const DeviceConfig& d, BusPort& port, const p::ModelDef& model)
      : id_(d.id), client_(*port.modbus), model_(model) {
    std::size_t used = 0;
    int unit = -1;
    try {
      unit = std::stoi(d.address, &used);
    } catch (const std::exception&) {
    }
    if (used != d.address.size() || unit < 1 || unit > 247) {
      throw std::invalid_argument("device " + d.id + ": Modbus unit id '" + d.address +
                                  "' is not in 1..247");
    }
    unit_ = unit;
    // The registry checked every point's quantity when it loaded the model file.
    quantities_.reserve(model.points.size());
    for (const auto& p : model.points) {
      auto q = find_quantity(p.quantity);
      if (!q) {
        throw std::invalid_argument("device " + d.id + ": model '" + model.name + "' point '" +
                                    p.name + "': '" + p.quantity + "' is not a quantity");
      }
      quantities_.push_back(*q);
    }
  }

  asio::awaitable<error_code> poll(std::vector<Reading>& out) override {
    std::vector<modbus::PointReading> points;
    if (auto ec = co_await modbus::read_model(client_, unit_, model_, points)) co_return ec;
    const auto now = std::chrono::system_clock::now();
    for (const auto& pr : points) {
      Reading r;
      r.meter = id_;
      const auto index = static_cast<std::size_t>(pr.point - model_.points.data());
      set_quantity(r, quantities_[index], pr.point->billed);
      r.unit = pr.point->unit;
      r.value = Decimal{pr.value.mantissa, pr.value.exponent};
      r.timestamp = now;
      out.push_back(std::move(r));
    }
    co_return error_code{};
  }

 private:
  std::string id_;
  ModbusMaster& client_;
  const p::ModelDef& model_;
  std::vector<Quantity> quantities_;  // per point of model_, in order
  int unit_ = 1;
};

}  // namespace

std::unique_ptr<MeterDriver> make_modbus_driver(const DeviceConfig& d, BusPort& port) {
  if (!port.modbus) throw std::invalid_argument("device " + d.id + ": Modbus needs a Modbus master");
  if (d.model.empty()) throw std::invalid_argument("device " + d.id + ": a Modbus meter needs a model");
  const p::ModelDef* model = port.models ? port.models->find(d.model) : nullptr;
  if (!model) {
    throw std::invalid_argument("device " + d.id + ": unknown Modbus model '" + d.model +
                                "' (not in the models directory)");
  }
  return std::make_unique<ModbusMeter>(d, port, *model);
}

}  // namespace estate::drivers
