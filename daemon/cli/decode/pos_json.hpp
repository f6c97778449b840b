// `estate-edge decode pos`: one ECR frame (or a lone ACK/NAK) of the POS terminal's protocol
// (protocols/pos, default row transbank-integrado) -> JSON: command, what it is, its fields by
// name, and for an answer its result code with the code's meaning and what it means for the
// money (approved, declined, not_found, in_progress, unknown). A card or account number in a
// field is masked (first 6 / last 4 digits at most). Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>

#include "daemon/cli/decode/decoders.hpp"
#include "protocols/common/result.hpp"

namespace estate::cli {

protocols::Result<nlohmann::ordered_json> decode_pos_json(std::span<const std::uint8_t> bytes,
                                                         const DecodeOptions& options);

}  // namespace estate::cli
