// Value information (EN 13757-3 §6.4): the tables that give a VIF, an FB/FD extension code or a
// combinable VIFE its quantity, unit and power of ten. Internal to the M-Bus codec.
// Thread-safety: pure functions over constant tables.
#pragma once

#include <cstdint>
#include <string_view>

namespace estate::protocols::mbus::detail {

enum class VifKind {
  number,        // a measured or counted value
  date,          // time point, date (type G)
  date_time,     // time point, date and time (types F, I) or time (type J)
  plain_text,    // VIF 7C: the unit follows as text
  any,           // VIF 7E: any VIF (readout selection)
  manufacturer,  // VIF 7F: manufacturer specific
  extension_fb,  // VIF 7B: the next byte is a code of table FB
  extension_fd,  // VIF 7D: the next byte is a code of table FD
};

struct VifMeaning {
  std::string_view quantity;  // snake_case name; "reserved" for codes the standard reserves
  std::string_view unit;      // normalised unit
  int exponent = 0;           // power of ten to reach `unit`
  double factor = 1.0;        // non-decimal factor to reach `unit` (durations)
  std::string_view raw_unit;  // unit before `factor` ("h"), empty when factor is 1
  VifKind kind = VifKind::number;
  bool bitfield = false;      // integer read unsigned (flags, identifiers, addresses)
};

// Primary VIF (E bit stripped), EN 13757-3 Table 10.
VifMeaning primary_vif(std::uint8_t code);
// Extension table after VIF FB (E bit stripped), EN 13757-3 Table 14.
VifMeaning extension_fb(std::uint8_t code);
// Extension table after VIF FD (E bit stripped), EN 13757-3 Table 12.
VifMeaning extension_fd(std::uint8_t code);

// Combinable (orthogonal) VIFE, EN 13757-3 Table 15 (E bit stripped).
struct VifeEffect {
  std::string_view text;         // description added to the record ("per hour"), may be empty
  int exponent_delta = 0;        // multiplicative correction 10^n
  bool additive = false;         // additive correction constant 10^(additive_exponent) in unit
  int additive_exponent = 0;
  bool date = false;             // the data field is a date/time of the event described
  bool duration = false;         // the data field is a duration in duration_unit
  int duration_unit = 0;         // 0 s, 1 min, 2 h, 3 d
  bool manufacturer = false;     // 7F: the following VIFEs and the data are vendor specific
  bool record_error = false;     // 00..1F: the slave reports an error for this record
};
VifeEffect combinable_vife(std::uint8_t code);

}  // namespace estate::protocols::mbus::detail
