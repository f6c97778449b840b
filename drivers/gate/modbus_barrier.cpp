#include "drivers/gate/modbus_barrier.hpp"

#include <charconv>

namespace estate::drivers::gate {

std::optional<std::pair<std::string, int>> parse_io_point(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) {
    return std::nullopt;
  }
  auto num = text.substr(colon + 1);
  int n = -1;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
  if (ec != std::errc() || p != num.data() + num.size() || n < 0 || n > 65535) return std::nullopt;
  return std::make_pair(std::string(text.substr(0, colon)), n);
}

void ModbusBarrierIo::read_loop(LoopHandler done) {
  client_.async_read(points_.unit, ModbusTable::discrete_inputs, points_.loop_input, 1,
                     [done = std::move(done)](boost::system::error_code ec,
                                              std::vector<std::uint16_t> bits) {
                       if (!ec && bits.empty()) ec = TransportError::bad_answer;
                       done(ec, !ec && bits[0] != 0);
                     });
}

void ModbusBarrierIo::drive(bool open, DriveHandler done) {
  client_.async_write_single(points_.unit, ModbusTable::coils, points_.relay_coil, open ? 1 : 0,
                             [done = std::move(done)](boost::system::error_code ec, int) { done(ec); });
}

}  // namespace estate::drivers::gate
