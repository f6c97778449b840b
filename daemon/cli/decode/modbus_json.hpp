// `estate-edge decode modbus`: Modbus registers + a model (config/models) -> JSON: one value per point of the map.
// Pure function of its input (the modbus decoder reads the model files once, on first use);
// thread-safe. Bad input returns a DecodeError naming what is wrong and the byte offset.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>

#include "daemon/cli/decode/decoders.hpp"
#include "protocols/common/result.hpp"

namespace estate::cli {

protocols::Result<nlohmann::ordered_json> decode_modbus_json(std::span<const std::uint8_t> bytes,
                                                            const DecodeOptions& options);

}  // namespace estate::cli
