#include "drivers/diagnostics.hpp"

namespace estate::drivers {

std::string Location::to_string() const {
  std::string s = file;
  if (line > 0) {
    s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
  }
  return s;
}

std::string ConfigError::to_string() const {
  std::string s = where.to_string() + ": ";
  if (!key_path.empty()) s += key_path + ": ";
  return s + message;
}

void Diagnostics::error(Location where, std::string key_path, std::string message) {
  errors_.push_back({std::move(where), std::move(key_path), std::move(message)});
}

void Diagnostics::warning(Location where, std::string key_path, std::string message) {
  warnings_.push_back({std::move(where), std::move(key_path), std::move(message)});
}

std::string Diagnostics::warnings_to_string() const {
  std::string s;
  for (const auto& w : warnings_) {
    s += w.where.to_string() + ": ";
    if (!w.key_path.empty()) s += w.key_path + ": ";
    s += "warning: " + w.message + "\n";
  }
  return s;
}

std::string Diagnostics::to_string() const {
  std::string s;
  for (const auto& e : errors_) s += e.to_string() + "\n";
  return s;
}

}  // namespace estate::drivers
