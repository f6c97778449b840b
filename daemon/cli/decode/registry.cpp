#include "daemon/cli/decode/decoders.hpp"

#include <vector>

namespace estate::cli {

// Each codec family adds its decoder here (its function lives in decode/<protocol>_json.cpp).
std::span<const Decoder> decoders() {
  static const std::vector<Decoder> all = {
  };
  return all;
}

}  // namespace estate::cli
