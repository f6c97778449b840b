#include "daemon/cli/decode/decoders.hpp"

#include <vector>

#include "daemon/cli/decode/cjt188_json.hpp"
#include "daemon/cli/decode/dlt645_json.hpp"
#include "daemon/cli/decode/mbus_json.hpp"
#include "daemon/cli/decode/modbus_json.hpp"
#include "daemon/cli/decode/pos_json.hpp"

namespace estate::cli {

// Each codec family adds its decoder here (its function lives in decode/<protocol>_json.cpp).
std::span<const Decoder> decoders() {
  static const std::vector<Decoder> all = {
      {"mbus", "M-Bus frame (EN 13757-2/-3): E5, short, control or long frame", decode_mbus_json},
      {"dlt645", "DL/T 645-2007/-1997 electricity meter frame", decode_dlt645_json},
      {"cjt188", "CJ/T 188 water/heat/gas meter frame", decode_cjt188_json},
      {"modbus", "Modbus registers (hex, from the model's first register) decoded with a model",
       decode_modbus_json, true},
      {"pos", "POS terminal ECR frame (Transbank POS Integrado) or a lone ACK/NAK", decode_pos_json},
  };
  return all;
}

}  // namespace estate::cli
