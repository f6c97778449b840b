// A throwaway site for the fuzz targets of the daemon's parsers of outside input: a site config
// (tokens, a prepaid room with a water meter, a car park with a camera, a kiosk with a POS) in
// a temporary directory, its store, and the daemon's own components built by
// runtime::make_components and started, except the two that talk to the network: the HTTP
// listener (its routes are called directly) and the cloud bridge (its command sink is called
// directly). The devices' buses point at a closed local port, so every device is unreachable
// and fails fast. Built once per process; stopped at exit as the daemon stops.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/bridge/bridge_component.hpp"
#include "daemon/http/http_component.hpp"
#include "daemon/runtime/component.hpp"
#include "daemon/store/store.hpp"

namespace estate::fuzz {

// Tokens of the site's http.tokens (their SHA-256 hashes are in the config).
inline constexpr const char* kKioskToken = "kiosk-token-0001";
inline constexpr const char* kTechnicianToken = "technician-token-0001";
inline constexpr const char* kAdminToken = "admin-token-0001";
inline constexpr const char* kCameraSecret = "5f0c3e9a7d21b84c6e0f9a3b1d7c2e48";
inline constexpr const char* kSiteId = "fuzz-site";
inline constexpr const char* kGatewayId = "fuzz-gw";
// The bridge's clock for command expiry: 2026-12-04T08:00:30+08:00 (the seeds' issued_at + 30 s).
inline constexpr std::int64_t kCommandTime = 1796342430;

struct Site {
  std::filesystem::path dir;          // temporary; holds site.yaml and state/
  std::filesystem::path config_file;  // dir/site.yaml
  boost::asio::io_context io;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<runtime::Services> services;
  std::vector<std::unique_ptr<runtime::Component>> components;
  using Work = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::unique_ptr<Work> work;
  std::vector<std::thread> threads;          // the io_context's pool
  http::HttpComponent* http = nullptr;       // constructed, not started (no socket)
  bridge::BridgeComponent* bridge = nullptr;  // constructed, not started (no broker)
};

// The site config's YAML with `state_dir` as storage.state_dir.
std::string site_yaml(const std::filesystem::path& state_dir);

// Builds (once) and returns the site. Logging goes nowhere (a null sink at debug level, so log
// calls still format their arguments). Aborts when the site cannot be built.
Site& site();

// A fresh temporary directory (under $TMPDIR, else /dev/shm, else /tmp).
std::filesystem::path make_temp_dir(const std::string& prefix);

}  // namespace estate::fuzz
