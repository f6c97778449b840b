// `estate-edge decode <protocol>`: one entry per codec family. Each decoder turns the bytes a
// technician pasted into the JSON documented in docs/ (and in the codec's testdata/*.json),
// or a DecodeError naming what is wrong and at which byte offset.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.hpp"

namespace estate::cli {

struct DecodeOptions {
  std::string model;  // modbus: the register map (config/models/<model>.yaml)
};

struct Decoder {
  std::string_view protocol;  // "mbus", "dlt645", "cjt188", "modbus"
  std::string_view summary;   // one line for --help
  protocols::Result<nlohmann::ordered_json> (*decode)(std::span<const std::uint8_t> bytes,
                                                      const DecodeOptions& options);
  bool needs_model = false;
};

// Every decoder this build has (decode/registry.cpp).
std::span<const Decoder> decoders();

}  // namespace estate::cli
