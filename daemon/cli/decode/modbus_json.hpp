// `estate-edge decode modbus`: Modbus registers + a model (config/models) -> JSON: one value per point of the map.
// Pure function of its input (the modbus decoder reads the model files once, on first use);
// thread-safe. Bad input returns a DecodeError naming what is wrong and the byte offset.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>

#include "daemon/cli/decode/decoders.hpp"
#include "protocols/common/result.hpp"
#include "protocols/modbus/register_map.hpp"

namespace estate::cli {

protocols::Result<nlohmann::ordered_json> decode_modbus_json(std::span<const std::uint8_t> bytes,
                                                            const DecodeOptions& options);

// A point's exact value as a JSON number, for display (`decode modbus`, `read modbus --json`):
// an integer when it has no decimals, else the double nearest its decimal text, which JSON
// prints back as that text up to 15 significant digits ("1234.56"; "1.00" shows as 1.0). The
// store and the uplink keep the decimal text itself.
nlohmann::ordered_json modbus_value_json(const protocols::modbus::Decimal& value);

}  // namespace estate::cli
