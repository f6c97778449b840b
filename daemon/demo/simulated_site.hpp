// The demo's devices: simulators of the project's test suite (tests/sim/) started as helper
// processes — DL/T 645 electricity meters and CJ/T 188 water meters with valves on ptys, M-Bus
// heat meters on a pty, an Eastron SDM630 on Modbus TCP, a car park (barrier I/O module plus
// traffic through plate cameras), a bank-card POS terminal and an ESC/POS receipt printer — and
// the site config that wires them to the gateway, as a technician would write it.
// Thread-safety: one owner.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "daemon/demo/child_process.hpp"

namespace estate::demo {

struct SimulatedSiteOptions {
  std::filesystem::path sim_dir;    // holds meter_sim.py, parking_lot_sim.py ...
  std::filesystem::path state_dir;  // simulators' logs go to <state>/sim/
  int http_port = 0;                // the gateway's listener, for the cameras' pushes
  std::string kiosk_token_sha256;   // hex
  std::string technician_token_sha256;
  std::string camera_secret;
};

class SimulatedSite {
 public:
  // Starts every simulator; throws std::runtime_error naming the one that did not start.
  static std::unique_ptr<SimulatedSite> start(const SimulatedSiteOptions& options);

  // The config sections (http, buses, devices, tariffs, accounts, parking rules) to append to
  // the demo site's own.
  const std::string& config_yaml() const { return yaml_; }
  // One line per simulator: what it plays and where its log is.
  const std::vector<std::string>& summary() const { return summary_; }

 private:
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  std::string yaml_;
  std::vector<std::string> summary_;
};

// Where the simulators are: $ESTATE_EDGE_SIM_DIR, else the source tree's tests/sim when this
// binary was built from one that still exists; empty when neither.
std::filesystem::path default_sim_dir();

}  // namespace estate::demo
