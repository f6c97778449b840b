#include "protocols/mbus/vif.hpp"

namespace estate::protocols::mbus::detail {

namespace {

constexpr std::string_view kTimeUnits[4] = {"s", "min", "h", "d"};
constexpr double kTimeFactors[4] = {1.0, 60.0, 3600.0, 86400.0};

// A duration in seconds, minutes, hours or days (the nn of E...00nn codes), normalised to s.
VifMeaning number(std::string_view quantity, std::string_view unit, int exponent) {
  VifMeaning m;
  m.quantity = quantity;
  m.unit = unit;
  m.exponent = exponent;
  return m;
}

VifMeaning duration(std::string_view quantity, unsigned nn) {
  VifMeaning m = number(quantity, "s", 0);
  m.factor = kTimeFactors[nn & 3];
  if ((nn & 3) != 0) m.raw_unit = kTimeUnits[nn & 3];
  return m;
}

VifMeaning flags(std::string_view quantity) {
  VifMeaning m = number(quantity, "", 0);
  m.bitfield = true;
  return m;
}

VifMeaning reserved() { return number("reserved", "", 0); }

}  // namespace

VifMeaning primary_vif(std::uint8_t c) {
  const int n3 = c & 7;
  const int n2 = c & 3;
  switch (c >> 3) {
    case 0x0: return number("energy", "Wh", n3 - 3);
    case 0x1: return number("energy", "J", n3);
    case 0x2: return number("volume", "m^3", n3 - 6);
    case 0x3: return number("mass", "kg", n3 - 3);
    case 0x4: return duration((c & 4) ? "operating_time" : "on_time", static_cast<unsigned>(n2));
    case 0x5: return number("power", "W", n3 - 3);
    case 0x6: return number("power", "J/h", n3);
    case 0x7: return number("volume_flow", "m^3/h", n3 - 6);
    case 0x8: return number("volume_flow", "m^3/min", n3 - 7);
    case 0x9: return number("volume_flow", "m^3/s", n3 - 9);
    case 0xA: return number("mass_flow", "kg/h", n3 - 3);
    case 0xB:
      return number((c & 4) ? "return_temperature" : "flow_temperature", "°C", n2 - 3);
    case 0xC:
      return (c & 4) ? number("external_temperature", "°C", n2 - 3)
                     : number("temperature_difference", "K", n2 - 3);
    case 0xD:
      if (!(c & 4)) return number("pressure", "bar", n2 - 3);
      switch (c) {
        case 0x6C: { VifMeaning m = number("time_point", "", 0); m.kind = VifKind::date; return m; }
        case 0x6D: { VifMeaning m = number("time_point", "", 0); m.kind = VifKind::date_time; return m; }
        case 0x6E: return number("units_for_hca", "", 0);
        default: return reserved();
      }
    case 0xE: return duration((c & 4) ? "actuality_duration" : "averaging_duration",
                              static_cast<unsigned>(n2));
    default:
      switch (c) {
        case 0x78: return flags("fabrication_number");
        case 0x79: return flags("enhanced_identification");
        case 0x7A: return flags("bus_address");
        case 0x7B: { VifMeaning m; m.kind = VifKind::extension_fb; return m; }
        case 0x7C: { VifMeaning m = number("plain_text", "", 0); m.kind = VifKind::plain_text; return m; }
        case 0x7D: { VifMeaning m; m.kind = VifKind::extension_fd; return m; }
        case 0x7E: { VifMeaning m = number("any", "", 0); m.kind = VifKind::any; return m; }
        default: { VifMeaning m = number("manufacturer_specific", "", 0); m.kind = VifKind::manufacturer; return m; }
      }
  }
}

// FB table (EN 13757-3 Table 14). The 2018 entries not in the 2004 table (reactive and apparent
// energy and power, MCal, ft^3 at 20h, frequency) are as exmbus (vif_table_fb.ex, "table 14 in
// EN 13757-3:2018") and m-bus-parser (value_information.rs) both give them. 22h-26h, 58h-67h and
// 70h-73h keep their pre-2004 meanings (libmbus); exmbus marks them "used until 2004, now
// reserved" (m-bus-parser reads 23h as a phase angle). Phase angles (2Ah, 2Bh) and the HCA rating
// factors (68h-6Eh) stay reserved: the two sources disagree on their resolution.
VifMeaning extension_fb(std::uint8_t c) {
  const int n1 = c & 1;
  const int n2 = c & 3;
  if (c <= 0x01) return number("energy", "Wh", n1 - 1 + 6);        // 10^(n-1) MWh
  if (c >= 0x02 && c <= 0x03) return number("reactive_energy", "VARh", n1 + 3);  // 10^n kVARh
  if (c >= 0x04 && c <= 0x05) return number("apparent_energy", "VAh", n1 + 3);   // 10^n kVAh
  if (c >= 0x08 && c <= 0x09) return number("energy", "J", n1 - 1 + 9);  // 10^(n-1) GJ
  // 10^(nn-1) MCal. Not "energy": which calorie is meant (and so the factor to J) is not given
  // by the sources, so the value stays in calories and is not taken for a Wh or J register.
  if (c >= 0x0C && c <= 0x0F) return number("energy_calories", "cal", n2 - 1 + 6);
  if (c >= 0x10 && c <= 0x11) return number("volume", "m^3", n1 + 2);
  if (c >= 0x14 && c <= 0x17) return number("reactive_power", "VAR", n2);  // 10^(nn-3) kVAR
  if (c >= 0x18 && c <= 0x19) return number("mass", "kg", n1 + 2 + 3);  // 10^(n+2) t
  if (c >= 0x1A && c <= 0x1B) return number("relative_humidity", "%", n1 - 1);
  if (c == 0x20) return number("volume", "feet^3", 0);
  if (c == 0x21) return number("volume", "feet^3", -1);
  if (c == 0x22) return number("volume", "american gallon", -1);
  if (c == 0x23) return number("volume", "american gallon", 0);
  if (c == 0x24) return number("volume_flow", "american gallon/min", -3);
  if (c == 0x25) return number("volume_flow", "american gallon/min", 0);
  if (c == 0x26) return number("volume_flow", "american gallon/h", 0);
  if (c >= 0x28 && c <= 0x29) return number("power", "W", n1 - 1 + 6);      // 10^(n-1) MW
  if (c >= 0x2C && c <= 0x2F) return number("frequency", "Hz", n2 - 3);
  if (c >= 0x30 && c <= 0x31) return number("power", "J/h", n1 - 1 + 9);    // 10^(n-1) GJ/h
  if (c >= 0x34 && c <= 0x37) return number("apparent_power", "VA", n2);    // 10^(nn-3) kVA
  if (c >= 0x58 && c <= 0x5B) return number("flow_temperature", "°F", n2 - 3);
  if (c >= 0x5C && c <= 0x5F) return number("return_temperature", "°F", n2 - 3);
  if (c >= 0x60 && c <= 0x63) return number("temperature_difference", "°F", n2 - 3);
  if (c >= 0x64 && c <= 0x67) return number("external_temperature", "°F", n2 - 3);
  if (c >= 0x70 && c <= 0x73) return number("temperature_limit", "°F", n2 - 3);
  if (c >= 0x74 && c <= 0x77) return number("temperature_limit", "°C", n2 - 3);
  if (c >= 0x78) return number("cumulative_max_power", "W", (c & 7) - 3);
  return reserved();
}

// FD table (EN 13757-3 Table 12). Security key (19h), remote control (1Fh) and the tariff and
// subunit descriptor (23h) are as exmbus (vif_table_fd.ex) and m-bus-parser both give them;
// 30h is the start (date/time) of tariff as exmbus and libmbus give it (30h is not a duration:
// the duration of tariff is 31h-33h, minutes to days).
VifMeaning extension_fd(std::uint8_t c) {
  const int n2 = c & 3;
  if (c <= 0x03) return number("credit", "currency units", n2 - 3);
  if (c <= 0x07) return number("debit", "currency units", n2 - 3);
  if (c >= 0x24 && c <= 0x27) return duration("storage_interval", static_cast<unsigned>(n2));
  if (c >= 0x2C && c <= 0x2F) return duration("duration_since_last_readout", static_cast<unsigned>(n2));
  if (c == 0x30) { VifMeaning m = number("tariff_start", "", 0); m.kind = VifKind::date_time; return m; }
  if (c >= 0x31 && c <= 0x33) return duration("tariff_duration", static_cast<unsigned>(n2));
  if (c >= 0x34 && c <= 0x37) return duration("tariff_period", static_cast<unsigned>(n2));
  if (c >= 0x40 && c <= 0x4F) return number("voltage", "V", (c & 0x0F) - 9);
  if (c >= 0x50 && c <= 0x5F) return number("current", "A", (c & 0x0F) - 12);
  if (c >= 0x68 && c <= 0x6B) {
    constexpr std::string_view units[4] = {"h", "d", "months", "years"};
    if (n2 < 2) return duration("duration_since_last_cumulation", static_cast<unsigned>(n2 + 2));
    return number("duration_since_last_cumulation", units[n2], 0);
  }
  if (c >= 0x6C && c <= 0x6F) {
    constexpr std::string_view units[4] = {"h", "d", "months", "years"};
    if (n2 < 2) return duration("operating_time_battery", static_cast<unsigned>(n2 + 2));
    return number("operating_time_battery", units[n2], 0);
  }
  switch (c) {
    case 0x08: return flags("access_number");
    case 0x09: return flags("medium");
    case 0x0A: return flags("manufacturer");
    case 0x0B: return flags("parameter_set_id");
    case 0x0C: return flags("model_version");
    case 0x0D: return flags("hardware_version");
    case 0x0E: return flags("firmware_version");
    case 0x0F: return flags("software_version");
    case 0x10: return flags("customer_location");
    case 0x11: return flags("customer");
    case 0x12: return flags("access_code_user");
    case 0x13: return flags("access_code_operator");
    case 0x14: return flags("access_code_system_operator");
    case 0x15: return flags("access_code_developer");
    case 0x16: return flags("password");
    case 0x17: return flags("error_flags");
    case 0x18: return flags("error_mask");
    case 0x19: return flags("security_key");
    case 0x1A: return flags("digital_output");
    case 0x1B: return flags("digital_input");
    case 0x1C: return number("baud_rate", "Bd", 0);
    case 0x1D: return number("response_delay_time", "bittimes", 0);
    case 0x1E: return number("retry", "", 0);
    case 0x1F: return flags("remote_control");
    case 0x20: return number("first_storage_number_cyclic", "", 0);
    case 0x21: return number("last_storage_number_cyclic", "", 0);
    case 0x22: return number("storage_block_size", "", 0);
    case 0x23: return flags("tariff_subunit_descriptor");
    case 0x28: return number("storage_interval", "months", 0);
    case 0x29: return number("storage_interval", "years", 0);
    case 0x38: return number("tariff_period", "months", 0);
    case 0x39: return number("tariff_period", "years", 0);
    case 0x3A: return number("dimensionless", "", 0);
    case 0x60: return number("reset_counter", "", 0);
    case 0x61: return number("cumulation_counter", "", 0);
    case 0x62: return flags("control_signal");
    case 0x63: return number("day_of_week", "", 0);
    case 0x64: return number("week_number", "", 0);
    case 0x65: return number("time_point_of_day_change", "", 0);
    case 0x66: return flags("parameter_activation_state");
    case 0x67: return flags("special_supplier_information");
    case 0x70: { VifMeaning m = number("battery_change", "", 0); m.kind = VifKind::date_time; return m; }
    case 0x71: return number("rf_level", "dBm", 0);
    case 0x74: return number("remaining_battery_life", "d", 0);
    case 0x75: return number("meter_stopped_count", "", 0);
    default: return reserved();
  }
}

VifeEffect combinable_vife(std::uint8_t c) {
  VifeEffect e;
  if (c <= 0x1F) {
    // EN 13757-3 Table 16: record error codes reported by the slave.
    static constexpr std::string_view errors[32] = {
        "",  // 00: no error
        "error: too many DIFEs", "error: storage number not implemented",
        "error: unit number not implemented", "error: tariff number not implemented",
        "error: function not implemented", "error: data class not implemented",
        "error: data size not implemented", "error: reserved", "error: reserved",
        "error: reserved", "error: too many VIFEs", "error: illegal VIF group",
        "error: illegal VIF exponent", "error: VIF/DIF mismatch", "error: unimplemented action",
        "error: reserved", "error: reserved", "error: reserved", "error: reserved",
        "error: reserved", "error: no data available", "error: data overflow",
        "error: data underflow", "error: data error", "error: reserved", "error: reserved",
        "error: reserved", "error: premature end of record", "error: reserved",
        "error: reserved", "error: reserved"};
    e.text = errors[c];
    e.record_error = c != 0;
    return e;
  }
  static constexpr std::string_view per[] = {
      "per second", "per minute", "per hour", "per day", "per week", "per month", "per year",
      "per revolution/measurement", "increment per input pulse on input channel 0",
      "increment per input pulse on input channel 1",
      "increment per output pulse on output channel 0",
      "increment per output pulse on output channel 1", "per litre", "per m^3", "per kg",
      "per K", "per kWh", "per GJ", "per kW", "per K*l", "per V", "per A", "multiplied by s",
      "multiplied by s/V", "multiplied by s/A", "start date(/time) of",
      "VIF contains uncorrected unit", "accumulation only if positive contributions",
      "accumulation of abs value only if negative contributions"};
  if (c >= 0x20 && c <= 0x3C) {
    e.text = per[c - 0x20];
    e.date = c == 0x39;
    return e;
  }
  if (c >= 0x40 && c <= 0x4F) {
    // E100 u000 limit value, E100 u001 number of exceeds, E100 uf1b date of exceed.
    const bool upper = c & 0x08;
    switch (c & 0x07) {
      case 0: e.text = upper ? "upper limit value" : "lower limit value"; return e;
      case 1: e.text = upper ? "number of exceeds of upper limit" : "number of exceeds of lower limit"; return e;
      case 2: e.text = upper ? "date of begin of first upper limit exceed" : "date of begin of first lower limit exceed"; break;
      case 3: e.text = upper ? "date of end of first upper limit exceed" : "date of end of first lower limit exceed"; break;
      case 6: e.text = upper ? "date of begin of last upper limit exceed" : "date of begin of last lower limit exceed"; break;
      case 7: e.text = upper ? "date of end of last upper limit exceed" : "date of end of last lower limit exceed"; break;
      default: e.text = "reserved"; return e;
    }
    e.date = true;
    return e;
  }
  if (c >= 0x50 && c <= 0x5F) {
    // E101 ufnn duration of limit exceed.
    static constexpr std::string_view texts[4] = {
        "duration of first lower limit exceed", "duration of last lower limit exceed",
        "duration of first upper limit exceed", "duration of last upper limit exceed"};
    e.text = texts[(c >> 2) & 3];
    e.duration = true;
    e.duration_unit = c & 3;
    return e;
  }
  if (c >= 0x60 && c <= 0x67) {
    e.text = (c & 4) ? "duration of last" : "duration of first";
    e.duration = true;
    e.duration_unit = c & 3;
    return e;
  }
  switch (c) {
    case 0x68: e.text = "value during lower limit exceed"; return e;
    case 0x6C: e.text = "value during upper limit exceed"; return e;
    case 0x6A: e.text = "date of begin of first"; e.date = true; return e;
    case 0x6B: e.text = "date of end of first"; e.date = true; return e;
    case 0x6E: e.text = "date of begin of last"; e.date = true; return e;
    case 0x6F: e.text = "date of end of last"; e.date = true; return e;
    default: break;
  }
  if (c >= 0x70 && c <= 0x77) {
    e.exponent_delta = (c & 7) - 6;
    return e;
  }
  if (c >= 0x78 && c <= 0x7B) {
    e.additive = true;
    e.additive_exponent = (c & 3) - 3;
    return e;
  }
  if (c == 0x7D) {
    e.exponent_delta = 3;
    return e;
  }
  if (c == 0x7E) {
    e.text = "future value";
    return e;
  }
  if (c == 0x7F) {
    e.text = "manufacturer specific";
    e.manufacturer = true;
    return e;
  }
  e.text = "reserved";
  return e;
}

}  // namespace estate::protocols::mbus::detail
