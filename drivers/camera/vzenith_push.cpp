// Vzenith (臻识) style HTTP plate result push ("model: vzenith"). The camera POSTs JSON:
//   {"AlarmInfoPlate": {"channel": 0, "deviceName": ..., "ipaddr": ..., "serialno": ...,
//     "result": {"PlateResult": {"license": "京A12345", "colorType": 1, "confidence": 93,
//       "type": 1, "direction": 4, "triggerType": 8, "isoffline": 0, "plateid": 12,
//       "timeStamp": {"Timeval": {"sec": 1767225600, "usec": 0}},
//       "imageFile": "<base64 JPEG, the scene>", "imageFragmentFile": "<base64 JPEG, the plate>",
//       ...}}}}
// PlateResult's members are those of the vendor's TCP SDK (vzenith/vzenith_tcp_protocol,
// commandanalysis.cpp ParsePlateResultResponse); colorType is its LC_* table (0 unknown,
// 1 blue, 2 yellow, 3 white, 4 black, 5 green). A record the camera kept while the server was
// unreachable comes later with isoffline 1: a past read, recorded nowhere and never decided
// (opening a gate for a car that left long ago would let the next one in).
#include <nlohmann/json.hpp>

#include <ctime>

#include "drivers/camera/plate_push.hpp"
#include "drivers/camera/push_detail.hpp"

namespace estate::drivers::camera {

namespace {

constexpr std::string_view where = "AlarmInfoPlate.result.PlateResult";

std::string colour_of(std::int64_t color_type) {
  switch (color_type) {
    case 1: return "blue";
    case 2: return "yellow";
    case 3: return "white";
    case 4: return "black";
    case 5: return "green";
    case 6: return "yellow-green";
    default: return "";
  }
}

// An optional whole number at `j[key]`: nullopt and `error` when present but not one.
bool integer(const nlohmann::json& j, const char* key, std::string_view path, std::int64_t lo,
             std::int64_t hi, std::optional<std::int64_t>& out, std::string& error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number_integer() || it->get<std::int64_t>() < lo || it->get<std::int64_t>() > hi) {
    error = std::string(path) + "." + key + ": expected a whole number " + std::to_string(lo) +
            ".." + std::to_string(hi);
    return false;
  }
  out = it->get<std::int64_t>();
  return true;
}

std::string utc_text(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

ParsedPush parse_vzenith(std::string_view body) {
  ParsedPush out;
  std::string& error = out.error;
  if (!detail::json_nesting_within(body, 16)) {
    error = "body is nested deeper than 16 levels";
    return out;
  }
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "body is not a JSON object";
    return out;
  }
  const auto alarm = j.find("AlarmInfoPlate");
  if (alarm == j.end() || !alarm->is_object()) {
    error = "AlarmInfoPlate: required (an object: a Vzenith plate result push)";
    return out;
  }
  const auto result = alarm->find("result");
  if (result == alarm->end() || !result->is_object()) {
    error = "AlarmInfoPlate.result: required (an object)";
    return out;
  }
  const auto pr = result->find("PlateResult");
  if (pr == result->end() || !pr->is_object()) {
    error = std::string(where) + ": required (an object)";
    return out;
  }
  PlateFields f;
  const auto license = pr->find("license");
  if (license == pr->end() || !license->is_string()) {
    error = std::string(where) + ".license: required (a string)";
    return out;
  }
  f.plate = detail::trim(license->get<std::string>());
  if (!detail::plate_text_ok(f.plate, std::string(where) + ".license", error)) return out;
  std::optional<std::int64_t> color, confidence, channel, offline, sec;
  if (!integer(*pr, "colorType", where, 0, 255, color, error) ||
      !integer(*pr, "confidence", where, 0, 100, confidence, error) ||
      !integer(*pr, "isoffline", where, 0, 1, offline, error) ||
      !integer(*alarm, "channel", "AlarmInfoPlate", 0, 255, channel, error)) {
    return out;
  }
  if (auto ts = pr->find("timeStamp"); ts != pr->end() && ts->is_object()) {
    if (auto tv = ts->find("Timeval"); tv != ts->end() && tv->is_object()) {
      if (!integer(*tv, "sec", std::string(where) + ".timeStamp.Timeval", 0, 4'102'444'800, sec,
                   error)) {
        return out;
      }
    }
  }
  if (offline.value_or(0) == 1) {
    out.ignored = "an offline record (isoffline 1): a past read is not decided";
    return out;
  }
  if (color) f.colour = colour_of(*color);
  if (confidence) f.confidence = static_cast<int>(*confidence);
  if (channel) f.channel = static_cast<int>(*channel);
  if (sec) f.time = utc_text(*sec);
  // The scene picture first; the plate's close-up when the camera sends only that.
  for (const char* key : {"imageFile", "imageFragmentFile"}) {
    auto it = pr->find(key);
    if (it == pr->end() || it->is_null()) continue;
    if (!it->is_string()) {
      error = std::string(where) + "." + key + ": expected a string (base64 JPEG)";
      return out;
    }
    const auto& text = it->get_ref<const std::string&>();
    if (text.empty() || !f.snapshot.empty()) continue;
    if (auto bytes = decode_base64(text)) {
      f.snapshot = std::move(*bytes);
      f.snapshot_name = key;
    } else if (f.note.empty()) {
      f.note = std::string(where) + "." + key + ": not base64; the read is kept without it";
    }
  }
  if (!f.snapshot.empty()) f.note.clear();
  out.fields = std::move(f);
  return out;
}

}  // namespace estate::drivers::camera
