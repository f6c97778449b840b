// The DL/T 645 data-identifier table as data. Fixed identifiers are constexpr rows; the energy
// registers, which form regular families (DL/T 645-2007 Appendix A, table A.1: DI3 = 00, DI2 =
// kind, DI1 = tariff, DI0 = settlement day), are generated from their coordinates so that all
// 11 x 64 x 13 of them are known without listing each one.
#include <array>
#include <cstdio>

#include "protocols/dlt645/dlt645.hpp"

namespace estate::protocols::dlt645 {

namespace {

struct Row {
  std::uint32_t di;
  const char* name;
  const char* unit;
  ValueFormat format;
  std::uint8_t size;
  std::uint8_t decimals;
  bool is_signed;
  std::uint8_t max_count;
};

using F = ValueFormat;

// DL/T 645-2007 Appendix A, tables A.3 (variables) and A.5 (parameters). Currents, powers and
// power factors carry a sign in the top bit of their most significant byte (A.3 notes).
constexpr Row kRows2007[] = {
    {0x02010100, "phase A voltage", "V", F::number, 2, 1, false, 1},
    {0x02010200, "phase B voltage", "V", F::number, 2, 1, false, 1},
    {0x02010300, "phase C voltage", "V", F::number, 2, 1, false, 1},
    {0x0201FF00, "voltages A, B, C", "V", F::number, 2, 1, false, 3},
    {0x02020100, "phase A current", "A", F::number, 3, 3, true, 1},
    {0x02020200, "phase B current", "A", F::number, 3, 3, true, 1},
    {0x02020300, "phase C current", "A", F::number, 3, 3, true, 1},
    {0x0202FF00, "currents A, B, C", "A", F::number, 3, 3, true, 3},
    {0x02030000, "total active power", "kW", F::number, 3, 4, true, 1},
    {0x02030100, "phase A active power", "kW", F::number, 3, 4, true, 1},
    {0x02030200, "phase B active power", "kW", F::number, 3, 4, true, 1},
    {0x02030300, "phase C active power", "kW", F::number, 3, 4, true, 1},
    {0x0203FF00, "active powers total, A, B, C", "kW", F::number, 3, 4, true, 4},
    {0x02040000, "total reactive power", "kvar", F::number, 3, 4, true, 1},
    {0x02040100, "phase A reactive power", "kvar", F::number, 3, 4, true, 1},
    {0x02040200, "phase B reactive power", "kvar", F::number, 3, 4, true, 1},
    {0x02040300, "phase C reactive power", "kvar", F::number, 3, 4, true, 1},
    {0x0204FF00, "reactive powers total, A, B, C", "kvar", F::number, 3, 4, true, 4},
    {0x02050000, "total apparent power", "kVA", F::number, 3, 4, true, 1},
    {0x02050100, "phase A apparent power", "kVA", F::number, 3, 4, true, 1},
    {0x02050200, "phase B apparent power", "kVA", F::number, 3, 4, true, 1},
    {0x02050300, "phase C apparent power", "kVA", F::number, 3, 4, true, 1},
    {0x0205FF00, "apparent powers total, A, B, C", "kVA", F::number, 3, 4, true, 4},
    {0x02060000, "total power factor", "", F::number, 2, 3, true, 1},
    {0x02060100, "phase A power factor", "", F::number, 2, 3, true, 1},
    {0x02060200, "phase B power factor", "", F::number, 2, 3, true, 1},
    {0x02060300, "phase C power factor", "", F::number, 2, 3, true, 1},
    {0x0206FF00, "power factors total, A, B, C", "", F::number, 2, 3, true, 4},
    {0x02070100, "phase A phase angle", "°", F::number, 2, 1, false, 1},
    {0x02070200, "phase B phase angle", "°", F::number, 2, 1, false, 1},
    {0x02070300, "phase C phase angle", "°", F::number, 2, 1, false, 1},
    {0x02800001, "neutral current", "A", F::number, 3, 3, true, 1},
    {0x02800002, "grid frequency", "Hz", F::number, 2, 2, false, 1},
    {0x02800003, "one-minute average total active power", "kW", F::number, 3, 4, true, 1},
    {0x02800004, "current active demand", "kW", F::number, 3, 4, true, 1},
    {0x02800005, "current reactive demand", "kvar", F::number, 3, 4, true, 1},
    {0x02800007, "meter temperature", "°C", F::number, 2, 1, true, 1},
    {0x02800008, "clock battery voltage", "V", F::number, 2, 2, false, 1},
    {0x04000101, "date and weekday", "", F::date_week, 4, 0, false, 1},
    {0x04000102, "time", "", F::time, 3, 0, false, 1},
    {0x04000401, "communication address", "", F::digits, 6, 0, false, 1},
    {0x04000402, "meter number", "", F::digits, 6, 0, false, 1},
    {0x04000501, "meter run status word 1", "", F::hex, 2, 0, false, 1},
    {0x04000502, "meter run status word 2", "", F::hex, 2, 0, false, 1},
    // Word 3 carries the relay state (bit 4), relay command state (bit 6) and pre-trip alarm
    // (bit 7); the decode JSON spells those bits out.
    {0x04000503, "meter run status word 3", "", F::hex, 2, 0, false, 1},
    {0x04000504, "meter run status word 4", "", F::hex, 2, 0, false, 1},
    {0x040005FF, "meter run status words 1-7", "", F::hex, 2, 0, false, 7},
};

// DL/T 645-1997 §7 (table of data identifiers). DI1 DI0 as one 16-bit number.
constexpr Row kRows1997[] = {
    {0xB611, "phase A voltage", "V", F::number, 2, 0, false, 1},
    {0xB612, "phase B voltage", "V", F::number, 2, 0, false, 1},
    {0xB613, "phase C voltage", "V", F::number, 2, 0, false, 1},
    {0xB61F, "voltages A, B, C", "V", F::number, 2, 0, false, 3},
    {0xB621, "phase A current", "A", F::number, 2, 2, false, 1},
    {0xB622, "phase B current", "A", F::number, 2, 2, false, 1},
    {0xB623, "phase C current", "A", F::number, 2, 2, false, 1},
    {0xB62F, "currents A, B, C", "A", F::number, 2, 2, false, 3},
    {0xB630, "total active power", "kW", F::number, 3, 4, false, 1},
    {0xB631, "phase A active power", "kW", F::number, 3, 4, false, 1},
    {0xB632, "phase B active power", "kW", F::number, 3, 4, false, 1},
    {0xB633, "phase C active power", "kW", F::number, 3, 4, false, 1},
    {0xB63F, "active powers total, A, B, C", "kW", F::number, 3, 4, false, 4},
    {0xB640, "total reactive power", "kvar", F::number, 2, 2, false, 1},
    {0xB641, "phase A reactive power", "kvar", F::number, 2, 2, false, 1},
    {0xB642, "phase B reactive power", "kvar", F::number, 2, 2, false, 1},
    {0xB643, "phase C reactive power", "kvar", F::number, 2, 2, false, 1},
    {0xB650, "total power factor", "", F::number, 2, 3, false, 1},
    {0xB651, "phase A power factor", "", F::number, 2, 3, false, 1},
    {0xB652, "phase B power factor", "", F::number, 2, 3, false, 1},
    {0xB653, "phase C power factor", "", F::number, 2, 3, false, 1},
    {0xC010, "date and weekday", "", F::date_week, 4, 0, false, 1},
    {0xC011, "time", "", F::time, 3, 0, false, 1},
    {0xC020, "meter run status word", "", F::hex, 1, 0, false, 1},
    {0xC030, "active meter constant", "imp/kWh", F::number, 3, 0, false, 1},
    {0xC032, "meter number", "", F::digits, 6, 0, false, 1},
};

DiInfo from_row(const Row& r) {
  return DiInfo{r.name, r.unit, r.format, r.size, r.decimals, r.is_signed, r.max_count};
}

// DL/T 645-2007 table A.1: DI2 selects the kind of energy.
struct EnergyKind {
  const char* name;
  const char* unit;
  bool is_signed;  // combined energies are signed (A.1 note)
};
constexpr std::array<EnergyKind, 11> kEnergyKinds = {{
    {"combined active energy", "kWh", true},
    {"forward active energy", "kWh", false},
    {"reverse active energy", "kWh", false},
    {"combined reactive energy 1", "kvarh", true},
    {"combined reactive energy 2", "kvarh", true},
    {"quadrant I reactive energy", "kvarh", false},
    {"quadrant II reactive energy", "kvarh", false},
    {"quadrant III reactive energy", "kvarh", false},
    {"quadrant IV reactive energy", "kvarh", false},
    {"forward apparent energy", "kVAh", false},
    {"reverse apparent energy", "kVAh", false},
}};

std::optional<DiInfo> energy_2007(std::uint32_t di) {
  const unsigned di3 = di >> 24, di2 = (di >> 16) & 0xFF, di1 = (di >> 8) & 0xFF, di0 = di & 0xFF;
  if (di3 != 0x00 || di2 >= kEnergyKinds.size()) return std::nullopt;
  const bool tariff_ok = di1 <= 0x3F || di1 == 0xFF;
  const bool day_ok = di0 <= 0x0C || di0 == 0xFF;
  if (!tariff_ok || !day_ok || (di1 == 0xFF && di0 == 0xFF)) return std::nullopt;
  const auto& kind = kEnergyKinds[di2];
  std::string name = kind.name;
  std::uint8_t count = 1;
  if (di1 == 0xFF) {
    name += ", total and tariffs";
    count = 64;
  } else if (di1 == 0) {
    name += " total";
  } else {
    name += ", tariff " + std::to_string(di1);
  }
  if (di0 == 0xFF) {
    name += ", current and last 12 settlements";
    count = 13;
  } else if (di0 != 0) {
    name += ", settlement " + std::to_string(di0) + " ago";
  }
  return DiInfo{name, kind.unit, ValueFormat::number, 4, 2, kind.is_signed, count};
}

// DL/T 645-1997: DI1 = 9x (x: 0 current active, 1 current reactive, 4/5 last month, 8/9 month
// before last); DI0 = yz (y: 1 forward, 2 reverse, 3..6 reactive quadrants; z: 0 total,
// 1..4 tariffs, F block).
std::optional<DiInfo> energy_1997(std::uint32_t di) {
  if ((di >> 12) != 0x9 || di > 0xFFFF) return std::nullopt;
  const unsigned period = (di >> 8) & 0x0F, y = (di >> 4) & 0x0F, z = di & 0x0F;
  const bool reactive = (period & 1) != 0;
  const unsigned month = period >> 2;  // 0 current, 1 last month, 2 month before last
  if (month > 2 || (period & 2) != 0) return std::nullopt;
  if (z > 4 && z != 0xF) return std::nullopt;
  std::string name;
  if (!reactive) {
    if (y == 1) name = "forward active energy";
    else if (y == 2) name = "reverse active energy";
    else return std::nullopt;
  } else {
    static constexpr const char* kReactive[] = {nullptr, "forward reactive energy",
                                                "reverse reactive energy",
                                                "quadrant I reactive energy",
                                                "quadrant IV reactive energy",
                                                "quadrant II reactive energy",
                                                "quadrant III reactive energy"};
    if (y < 1 || y > 6) return std::nullopt;
    name = kReactive[y];
  }
  std::uint8_t count = 1;
  if (z == 0) name += " total";
  else if (z == 0xF) { name += ", total and tariffs"; count = 5; }
  else name += ", tariff " + std::to_string(z);
  if (month == 1) name += ", last month";
  if (month == 2) name += ", month before last";
  return DiInfo{name, reactive ? "kvarh" : "kWh", ValueFormat::number, 4, 2, false, count};
}

}  // namespace

std::optional<DiInfo> lookup_di(Version version, std::uint32_t di) {
  if (version == Version::v2007) {
    for (const auto& r : kRows2007) {
      if (r.di == di) return from_row(r);
    }
    return energy_2007(di);
  }
  for (const auto& r : kRows1997) {
    if (r.di == di) return from_row(r);
  }
  return energy_1997(di);
}

std::string format_di(Version version, std::uint32_t di) {
  char buf[16];
  if (version == Version::v2007) {
    std::snprintf(buf, sizeof buf, "%08X", static_cast<unsigned>(di));
  } else {
    std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(di & 0xFFFF));
  }
  return buf;
}

}  // namespace estate::protocols::dlt645
