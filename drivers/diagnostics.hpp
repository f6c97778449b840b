// Config diagnostics: every problem names file:line:column and the key path, like a compiler.
// Shared by the site config loader (daemon/config) and the device families' validators
// (drivers/device_families.hpp), so a device's driver checks its own settings.
#pragma once

#include <string>
#include <vector>

namespace estate::drivers {

struct Location {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string to_string() const;
};

struct ConfigError {
  Location where;
  std::string key_path;  // e.g. "buses[1].baud"; empty for file-level problems
  std::string message;
  // "site.yaml:12:3: buses[1].baud: 115201 is not a supported baud rate"
  std::string to_string() const;
};

// Collects every error of one load so a technician sees them all at once, in file order.
// Warnings (a risky but working setting: plain HTTP on the LAN, a password over mqtt://) do not
// fail the load; check-config prints them and `run` logs them.
class Diagnostics {
 public:
  void error(Location where, std::string key_path, std::string message);
  void warning(Location where, std::string key_path, std::string message);
  bool ok() const { return errors_.empty(); }
  const std::vector<ConfigError>& errors() const { return errors_; }
  const std::vector<ConfigError>& warnings() const { return warnings_; }
  std::string to_string() const;  // one error per line
  // "file:line:column: key: warning: message", one per line.
  std::string warnings_to_string() const;

 private:
  std::vector<ConfigError> errors_;
  std::vector<ConfigError> warnings_;
};

}  // namespace estate::drivers
