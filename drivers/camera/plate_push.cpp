// The push formats' shared parts: model names, base64, multipart, the answers, and our own
// generic JSON format.
#include "drivers/camera/plate_push.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>

#include "drivers/camera/push_detail.hpp"
#include "drivers/model_table.hpp"

namespace estate::drivers::camera {

namespace {

struct ModelName {
  std::string_view name;
  PushFormat format;
};
constexpr std::array<ModelName, 3> models{{{"generic-json", PushFormat::generic_json},
                                           {"vzenith", PushFormat::vzenith},
                                           {"hikvision-isapi", PushFormat::hikvision_isapi}}};

}  // namespace

std::optional<PushFormat> find_push_format(std::string_view model) {
  if (model.empty()) return PushFormat::generic_json;
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
      a.body = R"({"ok":true})";
      break;
  }
  return a;
}

namespace {

std::optional<std::string> string_field(const nlohmann::json& j, const char* key,
                                        std::string& error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    error = std::string(key) + ": expected a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace

ParsedPush parse_generic_json(std::string_view body) {
  ParsedPush out;
  if (!detail::json_nesting_within(body, 16)) {
    out.error = "body is nested deeper than 16 levels";
    return out;
  }
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    out.error = "body is not a JSON object";
    return out;
  }
  PlateFields f;
  std::string& error = out.error;
  auto text = [&](const char* key, std::string& into) {
    auto v = string_field(j, key, error);
    if (!v) return false;
    into = std::move(*v);
    return true;
  };
  if (!text("camera", f.camera) || !text("plate", f.plate)) return out;
  if (!detail::plate_text_ok(f.plate, "plate", error)) return out;
  if (!text("colour", f.colour)) return out;
  // The colour in the vocabulary of the events (docs/schemas/events.schema.json).
  f.colour = detail::lower(f.colour);
  if (f.colour == "unknown") f.colour.clear();
  if (!f.colour.empty() && f.colour != "blue" && f.colour != "yellow" && f.colour != "white" &&
      f.colour != "black" && f.colour != "green" && f.colour != "yellow-green") {
    f.colour = "other";
  }
  if (auto it = j.find("confidence"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 100) {
      error = "confidence: expected a whole number 0..100";
      return out;
    }
    f.confidence = it->get<int>();
  }
  if (!text("lane", f.lane) || !text("time", f.time)) return out;
  if (!f.lane.empty() && f.lane != "entry" && f.lane != "exit") {
    error = "lane: expected entry or exit, got '" + f.lane + "'";
    return out;
  }
  std::string snapshot;
  if (!text("snapshot", snapshot)) return out;
  if (!snapshot.empty()) {
    if (auto bytes = decode_base64(snapshot)) {
      f.snapshot = std::move(*bytes);
      f.snapshot_name = "snapshot";
    } else {
      f.note = "snapshot: not base64; the read is kept without its picture";
    }
  }
  out.fields = std::move(f);
  return out;
}

ParsedPush parse_push(PushFormat f, std::string_view body, std::string_view content_type) {
  switch (f) {
    case PushFormat::vzenith:
      return parse_vzenith(body);
    case PushFormat::hikvision_isapi:
      return parse_hikvision(body, content_type);
    case PushFormat::generic_json:
      break;
  }
  return parse_generic_json(body);
}

}  // namespace estate::drivers::camera
