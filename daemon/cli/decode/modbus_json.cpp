#include "daemon/cli/decode/modbus_json.hpp"

#include <cstdlib>
#include <mutex>

#include "drivers/meter/model_registry.hpp"
#include "drivers/meter/reading.hpp"
#include "protocols/modbus/register_map.hpp"

namespace estate::cli {

namespace mb = protocols::modbus;
using nlohmann::ordered_json;

namespace {

struct LoadedModels {
  drivers::meter::ModelRegistry registry;
  std::vector<drivers::meter::ModelError> errors;
  std::string dir;
};

// The model files are read once per process; decode is called once per CLI run, and tests
// call it many times.
const LoadedModels& models() {
  static LoadedModels loaded = [] {
    LoadedModels l;
    const auto dir = drivers::meter::default_models_dir();
    l.dir = dir.string();
    l.errors = l.registry.load_default_dirs();  // package, then the site's (overrides)
    return l;
  }();
  return loaded;
}

}  // namespace

ordered_json modbus_value_json(const mb::Decimal& value) {
  const drivers::Decimal exact{value.mantissa, value.exponent};
  if (exact.exponent >= 0) {
    if (auto whole = exact.rescaled(0)) return ordered_json(whole->mantissa);
  }
  // strtod rounds the decimal text correctly, so the shortest form JSON prints is that text.
  return ordered_json(std::strtod(exact.to_string().c_str(), nullptr));
}

protocols::Result<ordered_json> decode_modbus_json(std::span<const std::uint8_t> bytes,
                                                   const DecodeOptions& options) {
  const auto& loaded = models();
  const mb::ModelDef* model = loaded.registry.find(options.model);
  if (model == nullptr) {
    std::string msg = "unknown model '" + options.model + "' in " + loaded.dir + " (known:";
    for (const auto& n : loaded.registry.names()) msg += " " + n;
    msg += ")";
    for (const auto& e : loaded.errors) msg += "; " + e.to_string();
    return protocols::decode_error(msg, 0);
  }
  if (bytes.size() % 2 != 0) {
    return protocols::decode_error(
        "registers are 2 bytes each; got " + std::to_string(bytes.size()) + " bytes",
        bytes.size() - 1);
  }
  std::vector<std::uint16_t> regs;
  regs.reserve(bytes.size() / 2);
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    regs.push_back(static_cast<std::uint16_t>(bytes[i] << 8 | bytes[i + 1]));
  }
  // The registers given start at the model's first register (what the first coalesced read
  // of the model returns).
  std::uint16_t start = 0xFFFF;
  for (const auto& p : model->points) start = std::min(start, p.address);
  auto values = mb::decode_registers(*model, start, regs);
  if (!values) return values.error();
  if (values->empty()) {
    return protocols::decode_error(
        std::to_string(regs.size()) + " register(s) from " + std::to_string(start) +
            " cover no point of model '" + model->name + "'",
        bytes.size());
  }
  ordered_json j;
  j["model"] = model->name;
  j["function"] = mb::to_string(model->function);
  j["start"] = start;
  j["registers"] = regs.size();
  auto points = ordered_json::array();
  for (const auto& v : *values) {
    points.push_back({{"name", v.point->name},
                      {"register", v.point->address},
                      {"type", mb::to_string(v.point->type)},
                      {"value", modbus_value_json(v.value)},
                      {"unit", v.point->unit},
                      {"quantity", v.point->quantity}});
  }
  j["points"] = std::move(points);
  return j;
}

}  // namespace estate::cli
