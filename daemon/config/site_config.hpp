// The site configuration: one YAML file plus optional conf.d/*.yaml drop-ins, validated in
// one place (load_site_config). Documented key by key in docs/config.md.
// A SiteConfig is an immutable value once loaded; reload builds a new one and swaps it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/diagnostics.hpp"
#include "drivers/device_config.hpp"

namespace estate::config {

struct SiteInfo {
  std::string id;               // "sunrise-garden": MQTT topic segment
  std::string name;             // for people
  std::string utc_offset = "+08:00";  // used in every ISO 8601 timestamp the gateway writes
  int utc_offset_minutes = 480;
};

struct GatewayInfo {
  std::string id;  // unique per gateway; prefix of every record id
  // gateway.heartbeat_interval_s: a gateway.heartbeat record this often (with an uplink); 0 = none.
  std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(60)};
};

// Buses and devices are the drivers' configuration (drivers/device_config.hpp); each device
// family validates its own (drivers/device_families.hpp) while the site config loads.
using drivers::BusConfig;
using drivers::BusKind;
using drivers::DeviceConfig;
using drivers::DeviceKind;
using drivers::Protocol;
using drivers::to_string;

struct MqttConfig {
  std::string url;              // mqtt://host:1883 or mqtts://host:8883; empty = no uplink
  std::string username;
  std::string password;         // never logged
  std::string password_file;
  std::string ca_file, cert_file, key_file;
  std::chrono::seconds keepalive{30};
  int inflight = 32;            // QoS 1 messages in flight at once
  int batch = 50;               // records per message at most
  std::chrono::seconds drain_timeout{10};  // on SIGTERM, wait this long for acknowledgements
  Location origin;
};

struct HttpConfig {
  std::string listen;           // "127.0.0.1:8080"; empty = no HTTP listener
  bool metrics_token_required = false;
  // HTTPS on the listener (PEM files; the key mode 600). Both or neither. With them, plain HTTP
  // is answered only to loopback clients.
  std::string tls_cert_file, tls_key_file;
  int max_connections_per_client = 32;  // open connections from one client address at most
  Location listen_origin;       // where listen was set, for warnings
  struct Token {
    std::string name;
    std::string role;           // kiosk, technician, admin
    std::string sha256;         // hex SHA-256 of the token
  };
  std::vector<Token> tokens;
};

struct StorageConfig {
  std::filesystem::path state_dir = "/var/lib/estate-edge";
  int telemetry_retention_days = 90;  // readings older than this may be dropped; money never
  std::int64_t max_db_mb = 2048;
  int commit_batch = 1000;            // records per write transaction at most
};

struct LoggingConfig {
  std::string level = "info";
};

struct SiteConfig {
  std::vector<std::filesystem::path> files;  // every file that contributed, in order
  SiteInfo site;
  GatewayInfo gateway;
  std::vector<BusConfig> buses;
  std::vector<DeviceConfig> devices;
  MqttConfig mqtt;
  HttpConfig http;
  StorageConfig storage;
  LoggingConfig logging;
  // Sections owned by domains (billing, parking, access): kept as their YAML with the file they
  // came from and validated by the domain's parser during load_site_config.
  struct DomainSection {
    YAML::Node node;
    std::string file;
  };
  std::map<std::string, std::vector<DomainSection>> domain_sections;

  const BusConfig* find_bus(std::string_view id) const;
  const DeviceConfig* find_device(std::string_view id) const;
};

// Loads `path` and, if it exists, every `conf.d/*.yaml` beside it in name order. Lists
// (buses, devices, ...) are concatenated; in mappings (mqtt, http, ...) a later file's keys
// override earlier ones. Returns nullopt with every problem in `diag` on failure.
std::optional<SiteConfig> load_site_config(const std::filesystem::path& path, Diagnostics& diag);

// A conf.d drop-in that the platform sends (cmd/config, the tariffs list): `name` is a file
// name in conf.d/ ("90-platform.yaml"), `text` its YAML; empty text means the file is removed.
struct DropIn {
  std::string name;
  std::string text;
};
// As load_site_config, but with `dropin` in place of conf.d/<dropin.name> (whether or not that
// file exists), so a candidate can be validated before it is written.
std::optional<SiteConfig> load_site_config(const std::filesystem::path& path, const DropIn& dropin,
                                           Diagnostics& diag);
// Writes (or, for empty text, removes) conf.d/<dropin.name> beside `path` atomically: a
// temporary file, fsync, rename, fsync of the directory. Throws std::runtime_error.
void write_dropin(const std::filesystem::path& path, const DropIn& dropin);

// Parses YAML text as if it were the file `name` (tests, embedded demo config).
std::optional<SiteConfig> load_site_config_text(const std::string& text, const std::string& name,
                                                Diagnostics& diag);

}  // namespace estate::config
