// `estate-edge decode dlt645`: DL/T 645-2007/-1997 frame -> JSON: address, control, direction, DI, name, value(s), unit.
// Pure function of its input (the modbus decoder reads the model files once, on first use);
// thread-safe. Bad input returns a DecodeError naming what is wrong and the byte offset.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>

#include "daemon/cli/decode/decoders.hpp"
#include "protocols/common/result.hpp"

namespace estate::cli {

protocols::Result<nlohmann::ordered_json> decode_dlt645_json(std::span<const std::uint8_t> bytes,
                                                            const DecodeOptions& options);

}  // namespace estate::cli
