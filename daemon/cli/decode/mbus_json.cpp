#include "daemon/cli/decode/mbus_json.hpp"

#include <string>
#include <type_traits>

#include "protocols/common/hex.hpp"
#include "protocols/mbus/link.hpp"
#include "protocols/mbus/manufacturer.hpp"

namespace estate::cli {

namespace mbus = protocols::mbus;
using json = nlohmann::ordered_json;

namespace {

json header_json(const mbus::Header& h) {
  json j = json::object();
  if (h.has_identity) {
    j["id"] = h.id;
    if (!h.fixed) {
      j["manufacturer"] = h.manufacturer;
      j["version"] = h.version;
    }
    // The fixed data structure has its own 4-bit medium table (EN 13757-3, fixed structure).
    static constexpr const char* fixed_media[16] = {
        "other", "oil", "electricity", "gas", "heat", "steam", "hot water", "water",
        "heat cost allocator", "reserved", "gas (mode 2)", "heat (mode 2)",
        "hot water (mode 2)", "water (mode 2)", "heat cost allocator (mode 2)", "reserved"};
    j["medium"] = h.fixed ? std::string(fixed_media[h.medium & 0x0F])
                          : std::string(mbus::medium_name(h.medium));
    j["medium_code"] = h.medium;
  }
  j["access_no"] = h.access_no;
  j["status"] = h.status;
  if (!h.fixed) j["signature"] = h.signature;
  if (h.status != 0) {
    json flags = json::array();
    for (auto f : mbus::status_flags(h.status)) flags.push_back(std::string(f));
    j["status_flags"] = flags;
  }
  return j;
}

json record_json(const mbus::Record& r) {
  json j;
  j["storage"] = r.storage;
  j["tariff"] = r.tariff;
  j["subunit"] = r.subunit;
  j["function"] = std::string(mbus::to_string(r.function));
  j["quantity"] = r.quantity;
  j["unit"] = r.unit;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          j["value"] = nullptr;
        } else if constexpr (std::is_same_v<T, std::string>) {
          j["value"] = v;
        } else if constexpr (std::is_same_v<T, mbus::DateTime>) {
          j["value"] = v.iso8601();
          if (v.invalid) j["invalid"] = true;
          if (v.summer_time) j["summer_time"] = true;
        } else if constexpr (std::is_same_v<T, protocols::Bytes>) {
          j["value"] = nullptr;
          j["raw_hex"] = protocols::to_hex(v);
        } else {
          j["value"] = r.value ? json(*r.value) : json(nullptr);
          j["raw"] = v;
          j["exponent"] = r.exponent;
          if (!r.raw_unit.empty()) j["raw_unit"] = r.raw_unit;
        }
      },
      r.raw);
  if (!r.extensions.empty()) j["extensions"] = r.extensions;
  if (r.manufacturer_specific) j["manufacturer_specific"] = true;
  if (!r.dib.empty()) j["dib"] = protocols::to_hex(r.dib);
  if (!r.vib.empty()) j["vib"] = protocols::to_hex(r.vib);
  return j;
}

std::string control_name(std::uint8_t c) {
  if (c & 0x40) {  // PRM bit: from the master
    switch (c & 0x0F) {
      case 0x0: return "SND_NKE";
      case 0x3: return "SND_UD";
      case 0xA: return "REQ_UD1";
      case 0xB: return "REQ_UD2";
      default: return "reserved";
    }
  }
  return (c & 0x0F) == 0x08 ? "RSP_UD" : "reserved";
}

json frame_json(const mbus::Frame& f) {
  json j;
  j["type"] = std::string(mbus::to_string(f.kind));
  if (f.kind == mbus::FrameKind::ack) return j;
  j["control"] = f.control;
  j["function"] = control_name(f.control);
  if (f.control & 0x40) j["fcb"] = (f.control & mbus::kControlFcb) != 0;
  j["address"] = f.address;
  if (f.kind != mbus::FrameKind::short_) j["ci"] = f.ci;
  return j;
}

}  // namespace

json mbus_telegram_json(const mbus::Telegram& t) {
  json j;
  j["header"] = header_json(t.header);
  json records = json::array();
  for (const auto& r : t.records) records.push_back(record_json(r));
  j["records"] = std::move(records);
  if (!t.manufacturer_data.empty()) j["manufacturer_data"] = protocols::to_hex(t.manufacturer_data);
  if (t.more_records_follow) j["more_records_follow"] = true;
  return j;
}

protocols::Result<json> decode_mbus_json(std::span<const std::uint8_t> bytes, const DecodeOptions&) {
  auto f = mbus::parse_frame(bytes);
  if (!f) return f.error();
  if (f->kind == mbus::FrameKind::ack || f->kind == mbus::FrameKind::short_) {
    return json{{"frame", frame_json(*f)}};
  }
  if (f->ci == mbus::kCiApplicationReset) {
    json j{{"frame", frame_json(*f)}, {"request", "application_reset"}};
    if (!f->data.empty()) j["subcode"] = f->data[0];
    return j;
  }
  if (f->ci == mbus::kCiSelectSecondary) {
    if (f->data.size() != 8) {
      return protocols::decode_error("selection needs 8 bytes after CI 0x52, got " +
                                         std::to_string(f->data.size()),
                                     f->data_offset);
    }
    const auto& d = f->data;
    std::string id;
    for (int i = 3; i >= 0; --i) id += protocols::to_hex(d.subspan(static_cast<std::size_t>(i), 1));
    for (auto& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const auto man = static_cast<std::uint16_t>(d[4] | d[5] << 8);
    return json{{"frame", frame_json(*f)},
                {"request", "select_secondary"},
                {"id", id},
                {"manufacturer", man == 0xFFFF ? std::string("any") : mbus::manufacturer_letters(man)},
                {"version", d[6]},
                {"medium", d[7]}};
  }
  auto t = mbus::decode_application(f->ci, f->data, f->data_offset);
  if (!t) return t.error();
  json j = mbus_telegram_json(*t);
  j["frame"] = frame_json(*f);
  return j;
}

}  // namespace estate::cli
