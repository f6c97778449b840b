#include "daemon/config/site_config.hpp"

#include "drivers/card/usb_hid_stream.hpp"
#include "drivers/device_families.hpp"
#include "drivers/meter/model_registry.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/config/domain_sections.hpp"
#include "daemon/config/section.hpp"

namespace estate::config {

namespace fs = std::filesystem;

const BusConfig* SiteConfig::find_bus(std::string_view id) const {
  for (const auto& b : buses)
    if (b.id == id) return &b;
  return nullptr;
}

const DeviceConfig* SiteConfig::find_device(std::string_view id) const {
  for (const auto& d : devices)
    if (d.id == id) return &d;
  return nullptr;
}

namespace {

const std::set<std::string_view> core_sections = {"site",    "gateway", "buses",  "devices",
                                                  "mqtt",    "http",    "storage", "logging"};

template <class E>
E pick(std::string_view s, std::initializer_list<std::pair<std::string_view, E>> table, E def) {
  for (auto& [k, v] : table)
    if (k == s) return v;
  return def;
}

bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

std::optional<std::string> id_key(Section& s, std::string_view key, Need need) {
  auto v = s.string(key, need);
  if (v && !valid_id(*v)) {
    s.error(key, "'" + *v + "' is not a valid id: use 1-64 letters, digits, '-', '_' or '.'");
    return std::nullopt;
  }
  return v;
}

bool parse_offset(std::string_view s, int& minutes) {
  // "+08:00" / "-03:30"
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return false;
  auto d = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1; };
  int h1 = d(1), h2 = d(2), m1 = d(4), m2 = d(5);
  if (h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0) return false;
  int h = h1 * 10 + h2, m = m1 * 10 + m2;
  if (h > 14 || m > 59) return false;
  minutes = (h * 60 + m) * (s[0] == '-' ? -1 : 1);
  return true;
}

void parse_site(Section s, SiteConfig& c) {
  if (auto v = id_key(s, "id", Need::optional)) c.site.id = *v;
  if (auto v = s.string("name")) c.site.name = *v;
  if (auto v = s.string("utc_offset")) {
    int minutes = 0;
    if (parse_offset(*v, minutes)) {
      c.site.utc_offset = *v;
      c.site.utc_offset_minutes = minutes;
    } else {
      s.error("utc_offset", "expected an offset such as \"+08:00\", got '" + *v + "'");
    }
  }
  s.finish();
}

void parse_gateway(Section s, SiteConfig& c) {
  if (auto v = id_key(s, "id", Need::optional)) c.gateway.id = *v;
  if (auto v = s.integer("heartbeat_interval_s", 0, 86400)) {
    c.gateway.heartbeat_interval = std::chrono::seconds(*v);
  }
  s.finish();
}

bool valid_baud(std::int64_t b) {
  static constexpr int rates[] = {300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
  return std::find(std::begin(rates), std::end(rates), b) != std::end(rates);
}

void parse_bus(Section s, SiteConfig& c) {
  BusConfig b;
  b.origin = s.location();
  if (auto v = id_key(s, "id", Need::required)) b.id = *v;
  auto kind = s.one_of("kind", {"serial", "tcp", "rtu_over_tcp", "usb"}, Need::required);
  if (kind) {
    b.kind = pick<BusKind>(*kind, {{"serial", BusKind::serial}, {"tcp", BusKind::tcp},
                                   {"rtu_over_tcp", BusKind::rtu_over_tcp}, {"usb", BusKind::usb}},
                           BusKind::serial);
  }
  if (auto v = s.one_of("protocol", {"modbus", "mbus", "dlt645", "cjt188", "card", "barrier",
                                     "pos", "escpos"}, Need::required)) {
    b.protocol = pick<Protocol>(*v, {{"modbus", Protocol::modbus}, {"mbus", Protocol::mbus},
                                     {"dlt645", Protocol::dlt645}, {"cjt188", Protocol::cjt188},
                                     {"card", Protocol::card}, {"barrier", Protocol::barrier},
                                     {"pos", Protocol::pos}, {"escpos", Protocol::escpos}},
                                Protocol::modbus);
  }
  const bool serial = kind && *kind == "serial";
  const bool usb = kind && *kind == "usb";
  const bool network = kind && !serial && !usb;
  if (auto v = s.string("device", serial || usb ? Need::required : Need::optional)) {
    if (network) s.error("device", "only serial and usb buses have a device; this bus is " + *kind);
    if (usb) {
      std::string why;
      if (!drivers::card::parse_usb_selector(*v, why)) s.error("device", why);
#ifndef ESTATE_EDGE_WITH_USB
      s.error("kind", "this build has no USB support (built with ESTATE_EDGE_WITH_USB=OFF)");
#endif
    }
    b.device = *v;
  }
  if (auto v = s.string("host", network ? Need::required : Need::optional)) {
    // Without a kind (already an error) there is nothing to say about the host.
    if (kind && !network) {
      s.error("host", "a " + *kind + " bus has no host; use kind: tcp or rtu_over_tcp");
    }
    b.host = *v;
  }
  if (auto v = s.integer("port", 1, 65535, network ? Need::required : Need::optional)) {
    b.port = static_cast<int>(*v);
  }
  if (auto v = s.integer("baud", 300, 115200)) {
    if (!valid_baud(*v)) {
      s.error("baud", std::to_string(*v) + " is not a standard baud rate (300 ... 115200)");
    }
    b.baud = static_cast<int>(*v);
  } else if (b.protocol == Protocol::mbus) {
    b.baud = 2400;
  }
  if (auto v = s.one_of("parity", {"none", "even", "odd"})) {
    b.parity = *v == "none" ? 'N' : (*v == "even" ? 'E' : 'O');
  } else if (b.protocol == Protocol::mbus || b.protocol == Protocol::dlt645 ||
             b.protocol == Protocol::cjt188) {
    b.parity = 'E';  // EN 13757-2, DL/T 645 and CJ/T 188 lines use 8E1
  }
  if (auto v = s.integer("data_bits", 7, 8)) b.data_bits = static_cast<int>(*v);
  if (auto v = s.integer("stop_bits", 1, 2)) b.stop_bits = static_cast<int>(*v);
  if (auto v = s.integer("timeout_ms", 10, 60000)) b.timeout = std::chrono::milliseconds(*v);
  if (auto v = s.integer("inter_frame_gap_ms", 0, 10000)) {
    b.inter_frame_gap = std::chrono::milliseconds(*v);
  }
  if (auto v = s.boolean("echo")) b.echo = *v;
  if (usb && b.protocol != Protocol::card && b.protocol != Protocol::escpos) {
    s.error("protocol", "a usb bus carries a keyboard-wedge card reader (protocol card) or a "
                        "receipt printer (protocol escpos)");
  }
  s.finish();
  c.buses.push_back(std::move(b));
}

// Why `secret` (a camera's shared secret) is not fit for use, or nullopt. The value itself is
// never repeated in a message. 128 bits at least, estimated from its length and the kinds of
// characters in it (hex digits 4 bits each; else the alphabet of the classes present), and no
// placeholder of the example config.
std::optional<std::string> weak_secret(std::string_view v) {
  std::string lower(v);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (std::string_view p : {"change-me", "changeme", "change_me", "replace-me", "replaceme",
                             "placeholder", "example"}) {
    if (lower.find(p) != std::string::npos) {
      return "this is a placeholder: put a random secret of at least 128 bits here "
             "(openssl rand -hex 16)";
    }
  }
  const auto hex = std::all_of(v.begin(), v.end(), [](char ch) {
    return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
  });
  double bits_per_char = 4.0;
  if (!hex) {
    bool lo = false, up = false, dig = false, other = false;
    for (char ch : v) {
      const auto u = static_cast<unsigned char>(ch);
      lo |= std::islower(u) != 0;
      up |= std::isupper(u) != 0;
      dig |= std::isdigit(u) != 0;
      other |= !std::isalnum(u);
    }
    const int alphabet = (lo ? 26 : 0) + (up ? 26 : 0) + (dig ? 10 : 0) + (other ? 33 : 0);
    bits_per_char = std::log2(std::max(alphabet, 2));
  }
  const std::set<char> distinct(v.begin(), v.end());
  const auto bits = static_cast<int>(bits_per_char * static_cast<double>(v.size()));
  if (bits < 128 || distinct.size() < 8) {
    return "too weak (about " + std::to_string(distinct.size() < 8 ? std::min(bits, 32) : bits) +
           " bits): use a random secret of at least 128 bits, e.g. 32 hex digits "
           "(openssl rand -hex 16)";
  }
  return std::nullopt;
}

// SHA-256 of the example's and other well-known placeholder tokens: a config holding one of
// these is refused, so a site never goes live with a token anybody can read in the example.
bool placeholder_token_hash(std::string_view h) {
  static constexpr std::string_view known[] = {
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  // "" (empty)
      "9b00c618b8de8caa4554360e9d1582e31e8b447c3b984bc0d1156768f8eaa5f4",  // change-me-kiosk
      "f39ee02400086c7b09a5d60289c3d826effa3375acd8246b9f9ed2bd5076fd1a",  // change-me-technician
      "ba30f59c2ec033f40fcd0f8dc89c9765a4d4ed51ee5140e915a8b3ccd2b43986",  // change-me-admin
  };
  return std::find(std::begin(known), std::end(known), h) != std::end(known);
}

bool loopback_host(std::string_view host) {
  return host.starts_with("127.") || host == "::1" || host == "[::1]" || host == "localhost";
}

void parse_device(Section s, SiteConfig& c) {
  DeviceConfig d;
  d.origin = s.location();
  if (auto v = id_key(s, "id", Need::required)) d.id = *v;
  if (auto v = s.one_of("kind", {"meter", "gate", "card_reader", "camera", "kiosk", "printer",
                                 "pos", "io_module"}, Need::required)) {
    d.kind = pick<DeviceKind>(*v, {{"meter", DeviceKind::meter}, {"gate", DeviceKind::gate},
                                   {"card_reader", DeviceKind::card_reader},
                                   {"camera", DeviceKind::camera}, {"kiosk", DeviceKind::kiosk},
                                   {"printer", DeviceKind::printer}, {"pos", DeviceKind::pos},
                                   {"io_module", DeviceKind::io_module}},
                              DeviceKind::meter);
  }
  if (auto v = s.string("bus")) d.bus = *v;
  if (auto v = s.string("address")) d.address = *v;
  if (auto v = s.string("model")) d.model = *v;
  if (auto v = s.one_of("medium", {"water", "hot_water", "electricity", "gas", "heat"})) {
    d.medium = *v;
  }
  if (auto v = s.integer("poll_interval_s", 1, 86400)) d.poll_interval = std::chrono::seconds(*v);
  if (auto v = s.integer("counter_digits", 0, 12)) d.counter_digits = static_cast<int>(*v);
  if (auto v = s.integer("offline_after_polls", 1, 1000)) d.offline_after_polls = static_cast<int>(*v);
  if (auto v = s.one_of("lane", {"entry", "exit"})) d.lane = *v;
  if (auto v = s.string("gate")) d.gate = *v;
  if (auto v = s.string("relay")) d.relay = *v;
  if (auto v = s.string("loop_input")) d.loop_input = *v;
  if (auto v = s.one_of("barrier", {"io_module", "serial_controller"})) d.barrier = *v;
  if (auto v = s.string("secret")) {
    if (auto why = weak_secret(*v)) s.error("secret", *why);
    d.secret = *v;
  }
  if (auto v = s.boolean("require_signature")) d.require_signature = *v;
  if (auto v = s.one_of("valve_policy", {"none", "close_on_zero"})) d.valve_policy = *v;
  if (auto opts = s.map("options")) {
    for (auto it = opts->node().begin(); it != opts->node().end(); ++it) {
      if (!it->second.IsScalar()) {
        opts->error(it->first.Scalar(), "options take single values");
        continue;
      }
      d.extra[it->first.Scalar()] = it->second.Scalar();
      d.key_origins["options." + it->first.Scalar()] = opts->location_of(it->first.Scalar());
    }
  }
  // Where each key was written: the device families' checks name it (drivers/device_families).
  if (s.node().IsMap()) {
    for (auto it = s.node().begin(); it != s.node().end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() != "options") {
        d.key_origins[it->first.Scalar()] = s.location_of(it->first.Scalar());
      }
    }
  }
  s.finish();
  c.devices.push_back(std::move(d));
}

void parse_mqtt(Section s, SiteConfig& c) {
  auto& m = c.mqtt;
  m.origin = s.location();
  if (auto v = s.string("url")) {
    if (!v->empty() && v->rfind("mqtt://", 0) != 0 && v->rfind("mqtts://", 0) != 0 &&
        v->rfind("tcp://", 0) != 0 && v->rfind("ssl://", 0) != 0) {
      s.error("url", "expected mqtt://host:port or mqtts://host:port, got '" + *v + "'");
    }
    m.url = *v;
  }
  if (auto v = s.string("username")) m.username = *v;
  if (auto v = s.string("password")) m.password = *v;
  if (auto v = s.string("password_file")) m.password_file = *v;
  if (auto v = s.string("ca_file")) m.ca_file = *v;
  if (auto v = s.string("cert_file")) m.cert_file = *v;
  if (auto v = s.string("key_file")) m.key_file = *v;
  if (auto v = s.integer("keepalive_s", 5, 3600)) m.keepalive = std::chrono::seconds(*v);
  if (auto v = s.integer("inflight", 1, 65535)) m.inflight = static_cast<int>(*v);
  if (auto v = s.integer("batch", 1, 1000)) m.batch = static_cast<int>(*v);
  if (auto v = s.integer("drain_timeout_s", 0, 600)) m.drain_timeout = std::chrono::seconds(*v);
  if (!m.password.empty() && !m.password_file.empty()) {
    s.error("password_file", "give either password or password_file, not both");
  }
  s.finish();
}

void parse_http(Section s, SiteConfig& c) {
  if (auto v = s.string("listen")) {
    auto colon = v->rfind(':');
    if (!v->empty() && (colon == std::string::npos || colon == 0 || colon + 1 == v->size())) {
      s.error("listen", "expected HOST:PORT such as 127.0.0.1:8080, got '" + *v + "'");
    }
    c.http.listen = *v;
    c.http.listen_origin = s.location_of("listen");
  }
  if (auto v = s.boolean("metrics_token_required")) c.http.metrics_token_required = *v;
  // Relative TLS files are read from the directory of the file that names them.
  auto beside = [&](const std::string& f) {
    fs::path p(f);
    return p.is_relative() && !f.empty() ? (fs::path(s.file()).parent_path() / p).string() : f;
  };
  if (auto v = s.string("tls_cert_file")) c.http.tls_cert_file = beside(*v);
  if (auto v = s.string("tls_key_file")) c.http.tls_key_file = beside(*v);
  if (auto v = s.integer("max_connections_per_client", 1, 256)) {
    c.http.max_connections_per_client = static_cast<int>(*v);
  }
  for (auto& t : s.list_of_maps("tokens")) {
    HttpConfig::Token tok;
    if (auto v = id_key(t, "name", Need::required)) tok.name = *v;
    if (auto v = t.one_of("role", {"kiosk", "technician", "admin"}, Need::required)) tok.role = *v;
    if (auto v = t.string("sha256", Need::required)) {
      if (v->size() != 64 || !std::all_of(v->begin(), v->end(), [](char ch) {
            return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
          })) {
        t.error("sha256", "expected 64 lower-case hex digits (sha256sum of the token)");
      } else if (placeholder_token_hash(*v)) {
        t.error("sha256", "the hash of a placeholder token: make a token of at least 128 bits "
                          "(openssl rand -hex 16) and put its printf %s \"$TOKEN\" | sha256sum");
      }
      tok.sha256 = *v;
    }
    t.finish();
    c.http.tokens.push_back(std::move(tok));
  }
  s.finish();
}

void parse_storage(Section s, SiteConfig& c) {
  if (auto v = s.string("state_dir")) c.storage.state_dir = *v;
  if (auto v = s.integer("telemetry_retention_days", 1, 3650)) {
    c.storage.telemetry_retention_days = static_cast<int>(*v);
  }
  if (auto v = s.integer("max_db_mb", 16, 1 << 20)) c.storage.max_db_mb = *v;
  if (auto v = s.integer("commit_batch", 1, 100000)) c.storage.commit_batch = static_cast<int>(*v);
  s.finish();
}

void parse_logging(Section s, SiteConfig& c) {
  if (auto v = s.one_of("level", {"trace", "debug", "info", "warn", "error"})) {
    c.logging.level = *v;
  }
  s.finish();
}

void parse_document(const YAML::Node& root, const std::string& file, SiteConfig& c,
                    Diagnostics& diag) {
  Section doc(root, file, "", diag);
  if (!doc.expect_map()) return;
  std::set<std::string_view> domain_keys;
  for (const auto& spec : domain_section_specs()) domain_keys.insert(spec.key);

  if (auto s = doc.map("site")) parse_site(*s, c);
  if (auto s = doc.map("gateway")) parse_gateway(*s, c);
  for (auto& s : doc.list_of_maps("buses")) parse_bus(s, c);
  for (auto& s : doc.list_of_maps("devices")) parse_device(s, c);
  if (auto s = doc.map("mqtt")) parse_mqtt(*s, c);
  if (auto s = doc.map("http")) parse_http(*s, c);
  if (auto s = doc.map("storage")) parse_storage(*s, c);
  if (auto s = doc.map("logging")) parse_logging(*s, c);
  for (const auto& spec : domain_section_specs()) {
    if (!doc.has(spec.key)) {
      doc.accept(spec.key);
      continue;
    }
    spec.validate(doc);
    c.domain_sections[std::string(spec.key)].push_back({root[std::string(spec.key)], file});
  }
  doc.finish();
}

std::optional<YAML::Node> parse_yaml(const std::string& text, const std::string& name,
                                     Diagnostics& diag) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    diag.error({name, e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax: " + e.msg);
  }
  return std::nullopt;
}

void cross_check(SiteConfig& c, Diagnostics& diag, const std::string& main_file) {
  if (c.site.id.empty()) diag.error({main_file, 0, 0}, "site.id", "required key is missing");
  if (c.gateway.id.empty()) diag.error({main_file, 0, 0}, "gateway.id", "required key is missing");

  std::map<std::string, Location> seen;
  for (const auto& b : c.buses) {
    if (b.id.empty()) continue;
    auto [it, fresh] = seen.emplace(b.id, b.origin);
    if (!fresh) {
      diag.error(b.origin, "buses." + b.id, "duplicate bus id; first defined at " +
                                                it->second.to_string());
    }
  }
  std::map<std::string, Location> devices;
  for (const auto& d : c.devices) {
    if (d.id.empty()) continue;
    auto [it, fresh] = devices.emplace(d.id, d.origin);
    if (!fresh) {
      diag.error(d.origin, "devices." + d.id, "duplicate device id; first defined at " +
                                                  it->second.to_string());
    }
  }
  for (const auto& d : c.devices) {
    const bool needs_bus = d.kind == DeviceKind::meter || d.kind == DeviceKind::io_module;
    if (d.bus.empty()) {
      if (needs_bus) diag.error(d.origin, "devices." + d.id + ".bus", "a " +
                                std::string(to_string(d.kind)) + " needs a bus");
    } else if (!c.find_bus(d.bus)) {
      diag.error(d.where("bus"), d.key_path("bus"), "no bus with id '" + d.bus + "'");
    }
    if (d.kind == DeviceKind::meter && d.medium.empty()) {
      diag.error(d.origin, "devices." + d.id + ".medium", "a meter needs a medium");
    }
    if (!d.gate.empty() && !c.find_device(d.gate)) {
      diag.error(d.where("gate"), d.key_path("gate"), "no device with id '" + d.gate + "'");
    }
    for (const auto* ref : {&d.relay, &d.loop_input}) {
      if (ref->empty()) continue;
      const std::string_view key = ref == &d.relay ? "relay" : "loop_input";
      auto dev = ref->substr(0, ref->find(':'));
      if (!c.find_device(dev)) {
        diag.error(d.where(key), d.key_path(key), "no device with id '" + dev + "'");
      }
    }
  }
  // Each device family checks its own settings, as its driver will take them at `run`.
  {
    drivers::meter::ModelRegistry models;
    bool modbus_meters = false;
    for (const auto& d : c.devices) {
      const auto* b = c.find_bus(d.bus);
      modbus_meters |= d.kind == DeviceKind::meter && b && b->protocol == Protocol::modbus;
    }
    // The model files' own errors are check-config --verbose's; a model that failed to load
    // is simply unknown here.
    if (modbus_meters) (void)models.load_default_dirs();
    drivers::validate_devices({c.buses, c.devices, modbus_meters ? &models : nullptr}, diag);
  }
  // HTTPS takes both files or neither.
  if (c.http.tls_cert_file.empty() != c.http.tls_key_file.empty()) {
    diag.error(c.http.listen_origin.file.empty() ? Location{main_file, 0, 0} : c.http.listen_origin,
               c.http.tls_cert_file.empty() ? "http.tls_cert_file" : "http.tls_key_file",
               "HTTPS needs both http.tls_cert_file and http.tls_key_file");
  }
  if (auto hp = c.http.listen.rfind(':'); hp != std::string::npos && c.http.tls_cert_file.empty() &&
                                          !loopback_host(c.http.listen.substr(0, hp))) {
    diag.warning(c.http.listen_origin, "http.listen",
                 "plain HTTP on a non-loopback address: tokens and camera secrets cross the LAN "
                 "in clear; set http.tls_cert_file and http.tls_key_file");
  }
  // Secret files open to the group or others: the HTTPS key is refused (as `run` refuses it),
  // the MQTT password and client key are warned of. Files not there yet are checked at start.
  auto open_mode = [](const std::string& f) -> std::optional<std::string> {
    struct stat st {};
    if (f.empty() || ::stat(f.c_str(), &st) != 0 || (st.st_mode & 0077) == 0) return std::nullopt;
    return "file " + f + " is accessible by " + ((st.st_mode & 0007) ? "other users" : "its group") +
           " (mode " + std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
           std::to_string(st.st_mode & 7) + "): chmod 600 " + f;
  };
  if (auto why = open_mode(c.http.tls_key_file)) {
    diag.error(c.http.listen_origin, "http.tls_key_file", *why);
  }
  for (const auto& [file, key] : {std::pair{c.mqtt.password_file, "mqtt.password_file"},
                                  std::pair{c.mqtt.key_file, "mqtt.key_file"}}) {
    if (auto why = open_mode(file)) diag.warning(c.mqtt.origin, key, *why);
  }
  const bool clear_mqtt = c.mqtt.url.starts_with("mqtt://") || c.mqtt.url.starts_with("tcp://");
  if (clear_mqtt && (!c.mqtt.password.empty() || !c.mqtt.password_file.empty())) {
    diag.warning(c.mqtt.origin, "mqtt.url",
                 "a password over " + c.mqtt.url.substr(0, c.mqtt.url.find(':')) +
                     ":// crosses the network in clear; use mqtts://");
  }
  if (diag.ok()) cross_check_domains(c, diag);
}

bool load_one(const std::string& text, const std::string& name, SiteConfig& c, Diagnostics& diag) {
  auto root = parse_yaml(text, name, diag);
  if (!root) return false;
  parse_document(*root, name, c, diag);
  return true;
}

}  // namespace

std::optional<SiteConfig> load_site_config_text(const std::string& text, const std::string& name,
                                                Diagnostics& diag) {
  SiteConfig c;
  c.files.push_back(name);
  load_one(text, name, c, diag);
  if (diag.ok()) cross_check(c, diag, name);
  if (!diag.ok()) return std::nullopt;
  return c;
}

namespace {

std::optional<SiteConfig> load_files(const fs::path& path, const DropIn* dropin, Diagnostics& diag) {
  // (file, text of a drop-in not on disk)
  std::vector<std::pair<fs::path, const std::string*>> files{{path, nullptr}};
  std::error_code ec;
  fs::path dropins = path.parent_path() / "conf.d";
  std::vector<std::pair<fs::path, const std::string*>> extra;
  if (fs::is_directory(dropins, ec)) {
    for (const auto& e : fs::directory_iterator(dropins, ec)) {
      if (dropin && e.path().filename() == dropin->name) continue;
      if (e.path().extension() == ".yaml" || e.path().extension() == ".yml") {
        extra.emplace_back(e.path(), nullptr);
      }
    }
  }
  if (dropin && !dropin->text.empty()) extra.emplace_back(dropins / dropin->name, &dropin->text);
  std::sort(extra.begin(), extra.end());
  files.insert(files.end(), extra.begin(), extra.end());
  SiteConfig c;
  for (const auto& [f, text] : files) {
    std::string content;
    if (text) {
      content = *text;
    } else {
      std::ifstream in(f);
      if (!in) {
        diag.error({f.string(), 0, 0}, "", "cannot read file: " + std::string(std::strerror(errno)));
        continue;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      content = ss.str();
    }
    c.files.push_back(f);
    load_one(content, f.string(), c, diag);
  }
  if (diag.ok()) cross_check(c, diag, path.string());
  if (!diag.ok()) return std::nullopt;
  return c;
}

}  // namespace

std::optional<SiteConfig> load_site_config(const fs::path& path, Diagnostics& diag) {
  return load_files(path, nullptr, diag);
}

std::optional<SiteConfig> load_site_config(const fs::path& path, const DropIn& dropin,
                                           Diagnostics& diag) {
  return load_files(path, &dropin, diag);
}

void write_dropin(const fs::path& path, const DropIn& dropin) {
  if (dropin.name.empty() || dropin.name.find('/') != std::string::npos ||
      dropin.name.front() == '.') {
    throw std::runtime_error("bad drop-in name '" + dropin.name + "'");
  }
  const fs::path dir = path.parent_path() / "conf.d";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  const fs::path target = dir / dropin.name;
  if (dropin.text.empty()) {
    fs::remove(target, ec);
    if (ec) throw std::runtime_error("cannot remove " + target.string() + ": " + ec.message());
  } else {
    // Not *.yaml, so a load meanwhile never sees half a file.
    const fs::path tmp = dir / ("." + dropin.name + ".new");
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    std::size_t off = 0;
    while (off < dropin.text.size()) {
      auto n = ::write(fd, dropin.text.data() + off, dropin.text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = errno;
        ::close(fd);
        throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(err));
      }
      off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    }
    fs::rename(tmp, target, ec);
    if (ec) throw std::runtime_error("cannot rename to " + target.string() + ": " + ec.message());
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace estate::config
