// libFuzzer target for Modbus register decoding: the first bytes choose a point (type, word
// order, address) and the rest are register values; decoding and coalescing must never read
// out of bounds. Run long with:
//   build-fuzz/tests/fuzz/modbus_fuzz -max_len=512 -max_total_time=600 \
//       tests/fuzz/corpus/modbus_fuzz
#include <cstddef>
#include <cstdint>
#include <vector>

#include "protocols/modbus/register_map.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace mb = estate::protocols::modbus;
  if (size < 4) return 0;
  mb::ModelDef model;
  model.name = "fuzz";
  // Up to 8 points described by 4 bytes each: type, order, address (2 bytes).
  std::size_t at = 0;
  const std::size_t n_points = data[at++] % 8 + 1;
  for (std::size_t i = 0; i < n_points && at + 4 <= size; ++i, at += 4) {
    mb::PointDef p;
    p.name = "p" + std::to_string(i);
    p.type = static_cast<mb::PointType>(data[at] % 9);
    p.word_order = (data[at + 1] & 1) ? mb::WordOrder::low_first : mb::WordOrder::high_first;
    p.address = static_cast<std::uint16_t>(data[at + 2] << 8 | data[at + 3]);
    model.points.push_back(p);
  }
  std::vector<std::uint16_t> regs;
  for (; at + 1 < size; at += 2) regs.push_back(static_cast<std::uint16_t>(data[at] << 8 | data[at + 1]));
  const std::uint16_t start = model.points.empty() ? 0 : model.points.front().address;
  auto values = mb::decode_registers(model, start, regs);
  (void)values;
  for (std::uint16_t max : {1, 2, 4, 125}) {
    auto reqs = mb::coalesce(model.points, mb::RegisterFunction::holding, max);
    std::size_t covered = 0;
    for (const auto& r : reqs) {
      if (r.count > max && r.points.size() != 1) __builtin_trap();
      covered += r.points.size();
    }
    if (covered != model.points.size()) __builtin_trap();
  }
  return 0;
}
