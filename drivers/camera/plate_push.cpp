// The push formats' shared parts: model names, base64, multipart, the answers, the decoder of
// JSON pushes described as data (JsonPushFormat) with our own generic-json row, and the
// json-fields format a site describes in a camera's options.
#include "drivers/camera/plate_push.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>

#include "drivers/camera/push_detail.hpp"
#include "drivers/model_table.hpp"

namespace estate::drivers::camera {

namespace {

struct ModelName {
  std::string_view name;
  PushFormat format;
};
constexpr std::array<ModelName, 4> models{{{"vzenith", PushFormat::vzenith},
                                           {"hikvision-isapi", PushFormat::hikvision_isapi},
                                           {"generic-json", PushFormat::generic_json},
                                           {"json-fields", PushFormat::json_fields}}};

}  // namespace

std::optional<PushFormat> find_push_format(std::string_view model) {
  const auto* m = find_model(models, model, &ModelName::name);
  if (m == nullptr) return std::nullopt;
  return m->format;
}

std::string_view to_string(PushFormat f) {
  for (const auto& m : models) {
    if (m.format == f) return m.name;
  }
  return "?";
}

std::string push_model_names() { return model_names(models, &ModelName::name); }

std::optional<std::string> decode_base64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0, pad = 0, count = 0;
  for (char c : text) {
    if (c == ' ' || c == '\r' || c == '\n' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return std::nullopt;  // data after padding
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    ++count;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (count % 4 == 1 || pad > 2 || (pad > 0 && (count + pad) % 4 != 0)) return std::nullopt;
  return out;
}

namespace detail {

bool json_nesting_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool plate_text_ok(const std::string& plate, const std::string& where, std::string& error) {
  if (plate.empty()) {
    error = where + ": required";
    return false;
  }
  if (plate.size() > 32) {
    error = where + ": longer than 32 bytes";
    return false;
  }
  return true;
}

// A parameter of a header value: `boundary` of "multipart/form-data; boundary=xyz".
std::string header_param(std::string_view value, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = value.find(';', pos)) != std::string_view::npos) {
    ++pos;
    while (pos < value.size() && value[pos] == ' ') ++pos;
    const auto eq = value.find('=', pos);
    if (eq == std::string_view::npos) break;
    if (lower(trim(value.substr(pos, eq - pos))) != name) continue;
    auto v = value.substr(eq + 1);
    if (!v.empty() && v.front() == '"') {
      v.remove_prefix(1);
      const auto end = v.find('"');
      return std::string(v.substr(0, end));
    }
    const auto end = v.find(';');
    return trim(v.substr(0, end));
  }
  return {};
}

}  // namespace detail

std::optional<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                          std::string_view content_type,
                                                          std::string& error) {
  const std::string boundary = detail::header_param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) {
    error = "Content-Type: a multipart body needs its boundary";
    return std::nullopt;
  }
  const std::string delimiter = "--" + boundary;
  std::vector<MultipartPart> parts;
  auto pos = body.find(delimiter);
  if (pos == std::string_view::npos) {
    error = "multipart: no '" + delimiter + "' delimiter in the body";
    return std::nullopt;
  }
  pos += delimiter.size();
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") {
      error = "multipart: expected CRLF after the boundary at byte " + std::to_string(pos);
      return std::nullopt;
    }
    pos += 2;
    const auto head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string_view::npos) {
      error = "multipart: part " + std::to_string(parts.size() + 1) + " has no end of headers";
      return std::nullopt;
    }
    MultipartPart part;
    for (auto line_start = pos; line_start < head_end;) {
      auto line_end = body.find("\r\n", line_start);
      if (line_end == std::string_view::npos || line_end > head_end) line_end = head_end;
      const auto line = body.substr(line_start, line_end - line_start);
      const auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        const std::string name = detail::lower(detail::trim(line.substr(0, colon)));
        const auto value = line.substr(colon + 1);
        if (name == "content-type") {
          part.content_type = detail::lower(detail::trim(value.substr(0, value.find(';'))));
        } else if (name == "content-disposition") {
          part.name = detail::header_param(value, "name");
          part.filename = detail::header_param(value, "filename");
        }
      }
      line_start = line_end + 2;
    }
    const auto data_start = head_end + 4;
    const auto next = body.find("\r\n" + delimiter, data_start);
    if (next == std::string_view::npos) {
      error = "multipart: part " + std::to_string(parts.size() + 1) +
              " is not closed by the boundary (body cut short?)";
      return std::nullopt;
    }
    part.data = body.substr(data_start, next - data_start);
    parts.push_back(std::move(part));
    if (parts.size() > 16) {
      error = "multipart: more than 16 parts";
      return std::nullopt;
    }
    pos = next + 2 + delimiter.size();
  }
}

PushAnswer answer_push(PushFormat f, bool open) {
  PushAnswer a;
  switch (f) {
    case PushFormat::vzenith:
      // "info": "ok" makes the camera pulse its barrier output; anything else does not.
      a.body = nlohmann::json{{"Response_AlarmInfoPlate", {{"info", open ? "ok" : "no"}}}}.dump();
      break;
    case PushFormat::hikvision_isapi:
      a.body = nlohmann::json{{"ok", true}, {"open", open}}.dump();
      break;
    case PushFormat::generic_json:
    case PushFormat::json_fields:
      a.body = R"({"ok":true})";
      break;
  }
  return a;
}

// ---- JSON pushes as data ----

namespace {

// The member names of a JSON pointer (RFC 6901 §3-4: "~1" stands for '/', "~0" for '~').
std::vector<std::string> pointer_tokens(std::string_view pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) return out;
  pointer.remove_prefix(1);  // the leading '/'
  std::string token;
  for (std::size_t i = 0; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      out.push_back(std::move(token));
      token.clear();
    } else if (pointer[i] == '~' && i + 1 < pointer.size()) {
      token += pointer[++i] == '1' ? '/' : '~';
    } else {
      token += pointer[i];
    }
  }
  return out;
}

// The value `pointer` names in `j`, nullptr when there is none (RFC 6901 §4: an array is
// indexed by a decimal number without leading zeros). Never throws.
const nlohmann::json* at_pointer(const nlohmann::json& j, std::string_view pointer) {
  const nlohmann::json* v = &j;
  for (const auto& token : pointer_tokens(pointer)) {
    if (v->is_object()) {
      auto it = v->find(token);
      if (it == v->end()) return nullptr;
      v = &*it;
    } else if (v->is_array()) {
      if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0') ||
          !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return nullptr;
      }
      const auto index = std::stoul(token);
      if (index >= v->size()) return nullptr;
      v = &(*v)[index];
    } else {
      return nullptr;
    }
  }
  return v;
}

// How errors name a field: its pointer's members joined by '.' ("AlarmInfoPlate.channel").
std::string field_name(std::string_view pointer) {
  std::string out;
  for (const auto& token : pointer_tokens(pointer)) {
    if (!out.empty()) out += '.';
    out += token;
  }
  return out.empty() ? std::string("body") : out;
}

std::string utc_text(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The colours of the events (docs/schemas/events.schema.json).
bool colour_word(std::string_view w) {
  return w == "blue" || w == "yellow" || w == "white" || w == "black" || w == "green" ||
         w == "yellow-green";
}

// A field's value once converted: `text` for the text conversions, `number` for the others.
struct Converted {
  bool given = false;
  std::string text;
  std::int64_t number = 0;
};

// Reads and converts `field` of `j`; false with `error` naming the field when its value is
// there but does not convert. Pictures are read by the caller (their failure is a note).
bool convert(const nlohmann::json& j, const JsonField& field, const JsonPushFormat& format,
             Converted& out, std::string& error) {
  if (field.pointer.empty()) return true;
  const auto* v = at_pointer(j, field.pointer);
  const std::string name = field_name(field.pointer);
  if (field.conversion == JsonConversion::required_text) {
    if (!v || !v->is_string()) {
      error = name + ": required (a string)";
      return false;
    }
    out.given = true;
    out.text = detail::trim(v->get_ref<const std::string&>());
    return true;
  }
  if (!v || v->is_null()) return true;
  auto whole = [&](std::int64_t lo, std::int64_t hi) {
    if (!v->is_number_integer() || v->get<std::int64_t>() < lo || v->get<std::int64_t>() > hi) {
      error = name + ": expected a whole number " + std::to_string(lo) + ".." + std::to_string(hi);
      return false;
    }
    out.number = v->get<std::int64_t>();
    return true;
  };
  switch (field.conversion) {
    case JsonConversion::text:
    case JsonConversion::colour_word:
    case JsonConversion::base64_picture:
      if (!v->is_string()) {
        error = name + ": expected a string";
        return false;
      }
      out.text = v->get<std::string>();
      if (field.conversion == JsonConversion::colour_word) {
        out.text = detail::lower(out.text);
        if (out.text == "unknown") out.text.clear();
        if (!out.text.empty() && !colour_word(out.text)) out.text = "other";
      }
      break;
    case JsonConversion::colour_code:
      if (!whole(0, 255)) return false;
      for (const auto& [code, word] : format.colour_codes) {
        if (code == out.number) out.text = word;
      }
      break;
    case JsonConversion::whole_number:
      if (!whole(field.lo, field.hi)) return false;
      break;
    case JsonConversion::unix_seconds:
      if (!whole(0, 4'102'444'800)) return false;  // up to 2100-01-01
      out.text = utc_text(out.number);
      break;
    case JsonConversion::offline_flag:
      if (!whole(0, 1)) return false;
      break;
    case JsonConversion::required_text:
      break;
  }
  out.given = true;
  return true;
}

}  // namespace

ParsedPush parse_json_push(const JsonPushFormat& format, std::string_view body) {
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
  for (const auto& e : format.envelope) {
    const auto* v = at_pointer(j, e.pointer);
    if (!v || !v->is_object()) {
      error = field_name(e.pointer) + ": required (" + e.what + ")";
      return out;
    }
  }
  PlateFields f;
  Converted plate, colour, confidence, offline, channel, camera, lane, time;
  if (!convert(j, format.plate, format, plate, error)) return out;
  f.plate = std::move(plate.text);
  if (!detail::plate_text_ok(f.plate, field_name(format.plate.pointer), error)) return out;
  if (!convert(j, format.colour, format, colour, error) ||
      !convert(j, format.confidence, format, confidence, error) ||
      !convert(j, format.offline, format, offline, error) ||
      !convert(j, format.channel, format, channel, error) ||
      !convert(j, format.camera, format, camera, error) ||
      !convert(j, format.lane, format, lane, error) ||
      !convert(j, format.time, format, time, error)) {
    return out;
  }
  if (offline.given && offline.number == 1) {
    const auto tokens = pointer_tokens(format.offline.pointer);
    out.ignored = "an offline record (" + tokens.back() + " 1): a past read is not decided";
    return out;
  }
  if (!lane.text.empty() && lane.text != "entry" && lane.text != "exit") {
    error = field_name(format.lane.pointer) + ": expected entry or exit, got '" + lane.text + "'";
    return out;
  }
  f.colour = std::move(colour.text);
  if (confidence.given) f.confidence = static_cast<int>(confidence.number);
  if (channel.given) f.channel = static_cast<int>(channel.number);
  f.camera = std::move(camera.text);
  f.lane = std::move(lane.text);
  f.time = std::move(time.text);
  // The first picture given (a scene before a plate close-up, in the row's order).
  for (const auto& s : format.snapshots) {
    const auto* v = at_pointer(j, s.pointer);
    if (!v || v->is_null()) continue;
    const std::string name = field_name(s.pointer);
    if (!v->is_string()) {
      error = name + ": expected a string (base64 JPEG)";
      return out;
    }
    const auto& text = v->get_ref<const std::string&>();
    if (text.empty() || !f.snapshot.empty()) continue;
    if (auto bytes = decode_base64(text)) {
      f.snapshot = std::move(*bytes);
      f.snapshot_name = pointer_tokens(s.pointer).back();
    } else if (f.note.empty()) {
      f.note = name + ": not base64; the read is kept without it";
    }
  }
  if (!f.snapshot.empty()) f.note.clear();
  out.fields = std::move(f);
  return out;
}

namespace {

// Our own flat JSON (anpr_push.hpp), for forwarders that translate a camera's push; the only
// format whose body may name its camera.
const JsonPushFormat& generic_json_row() {
  static const JsonPushFormat row{
      .model = "generic-json",
      .envelope = {},
      .plate = {"/plate", JsonConversion::text},
      .colour = {"/colour", JsonConversion::colour_word},
      .confidence = {"/confidence", JsonConversion::whole_number, 0, 100},
      .lane = {"/lane", JsonConversion::text},
      .channel = {},
      .time = {"/time", JsonConversion::text},
      .camera = {"/camera", JsonConversion::text},
      .offline = {},
      .snapshots = {{"/snapshot", JsonConversion::base64_picture}},
      .colour_codes = {},
  };
  return row;
}

}  // namespace

const JsonPushFormat* json_push_format(PushFormat f) {
  switch (f) {
    case PushFormat::vzenith:
      return &detail::vzenith_push_format();
    case PushFormat::generic_json:
      return &generic_json_row();
    case PushFormat::hikvision_isapi:
    case PushFormat::json_fields:
      break;
  }
  return nullptr;
}

ParsedPush parse_generic_json(std::string_view body) {
  return parse_json_push(generic_json_row(), body);
}

bool valid_json_pointer(std::string_view text) {
  if (text.size() < 2 || text.size() > 256 || text.front() != '/') return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '~' && (i + 1 == text.size() || (text[i + 1] != '0' && text[i + 1] != '1'))) {
      return false;
    }
  }
  return true;
}

namespace {

// The options of a json-fields camera, in the order errors list them.
constexpr std::array<std::string_view, 7> json_fields_options{
    "plate", "colour", "confidence", "lane", "snapshot", "time", "colour_codes"};

}  // namespace

std::string json_fields_option_names() {
  std::string out;
  for (auto name : json_fields_options) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::optional<JsonPushFormat> json_fields_format(const std::map<std::string, std::string>& options,
                                                 std::vector<JsonFieldsProblem>& problems) {
  const auto before = problems.size();
  JsonPushFormat row;
  row.model = "json-fields";
  for (const auto& [key, value] : options) {
    if (std::find(json_fields_options.begin(), json_fields_options.end(), key) ==
        json_fields_options.end()) {
      problems.push_back({key, "not an option of a json-fields camera (its options: " +
                                   json_fields_option_names() + ")"});
    } else if (key != "colour_codes" && !valid_json_pointer(value)) {
      problems.push_back({key, "expected a JSON pointer (RFC 6901) such as /result/plate, got '" +
                                   value + "'"});
    }
  }
  auto pointer = [&](const char* key) {
    auto it = options.find(key);
    return it == options.end() ? std::string() : it->second;
  };
  if (pointer("plate").empty()) {
    problems.push_back({"plate", "a json-fields camera needs the JSON pointer of its plate "
                                 "(options: {plate: /path/to/plate})"});
  }
  row.plate = {pointer("plate"), JsonConversion::required_text};
  row.colour = {pointer("colour"), JsonConversion::colour_word};
  row.confidence = {pointer("confidence"), JsonConversion::whole_number, 0, 100};
  row.lane = {pointer("lane"), JsonConversion::text};
  row.time = {pointer("time"), JsonConversion::text};
  if (auto s = pointer("snapshot"); !s.empty()) {
    row.snapshots.push_back({s, JsonConversion::base64_picture});
  }
  // "1=blue, 2=yellow": the camera sends its colour as a number of its own table.
  if (auto codes = options.find("colour_codes"); codes != options.end()) {
    row.colour.conversion = JsonConversion::colour_code;
    std::string_view rest = codes->second;
    bool ok = !rest.empty();
    while (ok && !rest.empty()) {
      const auto comma = rest.find(',');
      const std::string item = detail::trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const auto eq = item.find('=');
      const auto code = eq == std::string::npos ? std::string() : detail::trim(item.substr(0, eq));
      const auto word = eq == std::string::npos ? std::string() : detail::trim(item.substr(eq + 1));
      ok = !code.empty() && code.size() <= 3 &&
           std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
           std::stoi(code) <= 255 && (colour_word(word) || word == "other");
      if (ok) row.colour_codes.emplace_back(std::stoi(code), word);
    }
    if (!ok) {
      problems.push_back({"colour_codes", "expected code=colour pairs such as \"1=blue, 2=yellow\" "
                                          "(codes 0..255; colours blue, yellow, white, black, "
                                          "green, yellow-green, other), got '" +
                                              codes->second + "'"});
    }
  }
  if (problems.size() != before) return std::nullopt;
  return row;
}

ParsedPush parse_push(PushFormat f, std::string_view body, std::string_view content_type) {
  if (f == PushFormat::hikvision_isapi) return parse_hikvision(body, content_type);
  if (const auto* row = json_push_format(f)) return parse_json_push(*row, body);
  ParsedPush out;
  out.error = "a json-fields camera's push is read with its own fields";
  return out;
}

}  // namespace estate::drivers::camera
