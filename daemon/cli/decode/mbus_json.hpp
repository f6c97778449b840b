// `estate-edge decode mbus`: turns an M-Bus frame (E5, short, control or long frame) into the
// JSON documented in docs/ and in protocols/mbus/testdata/*.json. Thread-safety: pure functions.
// Errors: the codec's DecodeError (what and byte offset), passed through unchanged.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>

#include "daemon/cli/decode/decoders.hpp"
#include "protocols/mbus/application.hpp"

namespace estate::cli {

// The decoded application layer as {"header":{...},"records":[...], ...}.
nlohmann::ordered_json mbus_telegram_json(const protocols::mbus::Telegram& telegram);

// The Decoder entry point: any M-Bus frame.
protocols::Result<nlohmann::ordered_json> decode_mbus_json(std::span<const std::uint8_t> bytes,
                                                           const DecodeOptions& options);

}  // namespace estate::cli
