// Hikvision ISAPI ANPR alarm push ("model: hikvision-isapi"). The camera (HTTP listening /
// alarm host) POSTs an EventNotificationAlert, either alone (Content-Type application/xml) or
// as the XML part of a multipart/form-data body whose other parts are JPEG pictures named by
// the XML's pictureInfoList (licensePlatePicture.jpg, detectionPicture.jpg):
//   <EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
//     <channelID>1</channelID><dateTime>2024-05-07T17:48:03.847+07:00</dateTime>
//     <eventType>ANPR</eventType> ...
//     <ANPR><licensePlate>...</licensePlate><confidenceLevel>98</confidenceLevel>
//       <plateColor>blue</plateColor><direction>forward</direction> ...</ANPR>
//   </EventNotificationAlert>
// Other event types on the same URL (heartbeats are videoloss/inactive) are answered 200 and
// ignored. The XML is read by a small scanner for the few elements needed: no DTD is ever
// processed (a body with <!DOCTYPE or <!ENTITY is refused), entities are the five predefined
// ones and numeric character references.
#include <algorithm>
#include <cstdint>

#include "drivers/camera/plate_push.hpp"
#include "drivers/camera/push_detail.hpp"

namespace estate::drivers::camera {

namespace {

// The content of the first element `name` in `xml` (any namespace prefix), or nullopt.
std::optional<std::string_view> element(std::string_view xml, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string_view::npos) {
    ++pos;
    std::size_t start = pos;
    // Skip a namespace prefix ("isapi:licensePlate").
    auto end = pos;
    while (end < xml.size() && xml[end] != '>' && xml[end] != ' ' && xml[end] != '/' &&
           xml[end] != '\t' && xml[end] != '\r' && xml[end] != '\n') {
      ++end;
    }
    auto tag = xml.substr(start, end - start);
    if (auto colon = tag.find(':'); colon != std::string_view::npos) tag.remove_prefix(colon + 1);
    if (tag != name) continue;
    const auto close = xml.find('>', end);
    if (close == std::string_view::npos) return std::nullopt;
    if (xml[close - 1] == '/') return std::string_view{};  // <name/>
    const auto content = close + 1;
    // The matching end tag, with or without the same prefix.
    std::size_t search = content;
    while ((search = xml.find("</", search)) != std::string_view::npos) {
      auto e = search + 2;
      auto etag_end = xml.find('>', e);
      if (etag_end == std::string_view::npos) return std::nullopt;
      auto etag = detail::trim(xml.substr(e, etag_end - e));
      std::string_view et = etag;
      if (auto colon = et.find(':'); colon != std::string_view::npos) et.remove_prefix(colon + 1);
      if (et == name) return xml.substr(content, search - content);
      search = etag_end;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Element text with its entities resolved; nullopt for an unknown entity or nested markup.
std::optional<std::string> text_of(std::string_view raw) {
  std::string out;
  auto t = detail::trim(raw);
  std::string_view s = t;
  if (s.starts_with("<![CDATA[") && s.ends_with("]]>")) {
    return std::string(s.substr(9, s.size() - 12));
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') return std::nullopt;
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const auto semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) return std::nullopt;
    const auto ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      std::uint32_t cp = 0;
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      auto digits = ent.substr(hex ? 2 : 1);
      if (digits.empty()) return std::nullopt;
      for (char c : digits) {
        int v = c >= '0' && c <= '9' ? c - '0'
                : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                              : -1;
        if (v < 0) return std::nullopt;
        cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
        if (cp > 0x10FFFF) return std::nullopt;
      }
      if (cp == 0) return std::nullopt;
      append_utf8(out, cp);
    } else {
      return std::nullopt;
    }
    i = semi;
  }
  return out;
}

// The text of `parent`'s element `name`; nullopt when it is missing or not text.
std::optional<std::string> element_text(std::string_view parent, std::string_view name) {
  const auto raw = element(parent, name);
  return raw ? text_of(*raw) : std::nullopt;
}

std::string colour_of(std::string_view c) {
  const std::string v = detail::lower(c);
  if (v == "blue" || v == "yellow" || v == "white" || v == "black" || v == "green") return v;
  if (v == "yellowgreen" || v == "yellow-green") return "yellow-green";
  if (v.empty() || v == "unknown") return "";
  return "other";
}

std::optional<int> whole(std::string_view s, int lo, int hi) {
  const std::string t = detail::trim(s);
  if (t.empty() || t.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

}  // namespace

ParsedPush parse_hikvision(std::string_view body, std::string_view content_type) {
  ParsedPush out;
  std::string& error = out.error;
  std::string_view xml = body;
  std::vector<MultipartPart> parts;
  if (detail::lower(detail::trim(content_type)).starts_with("multipart/")) {
    auto p = parse_multipart(body, content_type, error);
    if (!p) return out;
    parts = std::move(*p);
    auto x = std::find_if(parts.begin(), parts.end(), [](const MultipartPart& m) {
      return m.content_type.find("xml") != std::string::npos ||
             detail::lower(m.filename).ends_with(".xml") || detail::lower(m.name).ends_with(".xml");
    });
    if (x == parts.end()) {
      error = "multipart body without an XML part (the EventNotificationAlert)";
      return out;
    }
    xml = x->data;
  }
  if (xml.find("<!DOCTYPE") != std::string_view::npos ||
      xml.find("<!ENTITY") != std::string_view::npos) {
    error = "XML with a DTD or entity declarations is refused";
    return out;
  }
  const auto alert = element(xml, "EventNotificationAlert");
  if (!alert) {
    error = "EventNotificationAlert: required (an ISAPI event notification)";
    return out;
  }
  const auto type = element_text(*alert, "eventType");
  if (!type) {
    error = "EventNotificationAlert.eventType: required";
    return out;
  }
  if (*type != "ANPR") {
    out.ignored = "eventType " + type->substr(0, 32) + " is not ANPR";
    return out;
  }
  const auto anpr = element(*alert, "ANPR");
  if (!anpr) {
    error = "EventNotificationAlert.ANPR: required with eventType ANPR";
    return out;
  }
  PlateFields f;
  const auto plate = element_text(*anpr, "licensePlate");
  if (!plate) {
    error = "ANPR.licensePlate: required";
    return out;
  }
  f.plate = detail::trim(*plate);
  if (!detail::plate_text_ok(f.plate, "ANPR.licensePlate", error)) return out;
  if (auto c = element(*anpr, "confidenceLevel")) {
    auto v = whole(*c, 0, 100);
    if (!v) {
      error = "ANPR.confidenceLevel: expected a whole number 0..100, got '" +
              detail::trim(c->substr(0, 16)) + "'";
      return out;
    }
    f.confidence = *v;
  }
  if (auto c = element(*anpr, "plateColor")) {
    auto t = text_of(*c);
    if (!t) {
      error = "ANPR.plateColor: not text";
      return out;
    }
    f.colour = colour_of(*t);
  }
  if (auto c = element(*alert, "channelID")) {
    auto v = whole(*c, 0, 65535);
    if (!v) {
      error = "EventNotificationAlert.channelID: expected a whole number";
      return out;
    }
    f.channel = *v;
  }
  if (auto d = element(*alert, "dateTime")) f.time = text_of(*d).value_or("").substr(0, 40);
  // The scene picture first, else the plate's close-up, else any picture.
  const MultipartPart* best = nullptr;
  int best_rank = 99;
  for (const auto& p : parts) {
    const std::string n = detail::lower(p.filename.empty() ? p.name : p.filename);
    const bool image = p.content_type.starts_with("image/") || n.ends_with(".jpg") ||
                       n.ends_with(".jpeg");
    if (!image || p.data.empty()) continue;
    const int rank = n.starts_with("detectionpicture")      ? 0
                     : n.starts_with("licenseplatepicture") ? 1
                                                            : 2;
    if (rank < best_rank) {
      best = &p;
      best_rank = rank;
    }
  }
  if (best) {
    f.snapshot = std::string(best->data);
    f.snapshot_name = best->filename.empty() ? best->name : best->filename;
  }
  out.fields = std::move(f);
  return out;
}

}  // namespace estate::drivers::camera
