#include "daemon/config/section.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace estate::config {

Location location_of(const YAML::Node& node, const std::string& file) {
  Location l{file, 0, 0};
  if (node.IsDefined()) {
    auto m = node.Mark();
    if (m.line >= 0) {
      l.line = m.line + 1;
      l.column = m.column + 1;
    }
  }
  return l;
}

Section::Section(YAML::Node node, std::string file, std::string path, Diagnostics& diag)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)), diag_(&diag) {}

bool Section::expect_map() {
  if (node_.IsMap()) return true;
  if (node_.IsNull()) {
    node_ = YAML::Node(YAML::NodeType::Map);
    return true;
  }
  diag_->error(location(), path_, "expected a mapping of keys");
  return false;
}

bool Section::has(std::string_view key) const {
  return node_.IsMap() && node_[std::string(key)].IsDefined();
}

std::string Section::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

Location Section::location() const { return config::location_of(node_, file_); }

Location Section::location_of(std::string_view key) const {
  if (node_.IsMap()) {
    auto v = std::as_const(node_)[std::string(key)];
    if (v.IsDefined()) return config::location_of(v, file_);
  }
  return location();
}

void Section::error(std::string_view key, std::string message) {
  diag_->error(location_of(key), child_path(key), std::move(message));
}

void Section::error_here(std::string message) {
  diag_->error(location(), path_, std::move(message));
}

void Section::accept(std::string_view key) { known_.emplace(key); }

std::optional<YAML::Node> Section::scalar(std::string_view key, Need need) {
  known_.emplace(key);
  if (!node_.IsMap()) return std::nullopt;
  auto v = std::as_const(node_)[std::string(key)];
  if (!v.IsDefined() || v.IsNull()) {
    if (need == Need::required) {
      diag_->error(location(), child_path(key), "required key is missing");
    }
    return std::nullopt;
  }
  if (!v.IsScalar()) {
    error(key, "expected a single value, not a list or mapping");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> Section::string(std::string_view key, Need need) {
  auto v = scalar(key, need);
  if (!v) return std::nullopt;
  auto s = v->Scalar();
  if (s.empty() && need == Need::required) {
    error(key, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::int64_t> Section::integer(std::string_view key, std::int64_t min,
                                             std::int64_t max, Need need) {
  auto v = scalar(key, need);
  if (!v) return std::nullopt;
  const std::string& s = v->Scalar();
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    error(key, "expected an integer, got '" + s + "'");
    return std::nullopt;
  }
  if (out < min || out > max) {
    error(key, std::to_string(out) + " is out of range [" + std::to_string(min) + ", " +
                   std::to_string(max) + "]");
    return std::nullopt;
  }
  return out;
}

std::optional<bool> Section::boolean(std::string_view key, Need need) {
  auto v = scalar(key, need);
  if (!v) return std::nullopt;
  const std::string& s = v->Scalar();
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  error(key, "expected true or false, got '" + s + "'");
  return std::nullopt;
}

std::optional<std::string> Section::one_of(std::string_view key,
                                           std::initializer_list<std::string_view> choices,
                                           Need need) {
  auto s = string(key, need);
  if (!s) return std::nullopt;
  for (auto c : choices) {
    if (*s == c) return s;
  }
  std::string list;
  for (auto c : choices) {
    if (!list.empty()) list += ", ";
    list += c;
  }
  error(key, "'" + *s + "' is not one of: " + list);
  return std::nullopt;
}

std::optional<std::string> Section::decimal_text(std::string_view key, Need need) {
  auto s = string(key, need);
  if (!s) return std::nullopt;
  bool digits = false, dot = false;
  for (std::size_t i = 0; i < s->size(); ++i) {
    char c = (*s)[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else if (c == '-' && i == 0) {
    } else {
      error(key, "expected a decimal number such as \"5.00\", got '" + *s + "'");
      return std::nullopt;
    }
  }
  if (!digits) {
    error(key, "expected a decimal number such as \"5.00\", got '" + *s + "'");
    return std::nullopt;
  }
  return s;
}

std::optional<Section> Section::map(std::string_view key, Need need) {
  known_.emplace(key);
  if (!node_.IsMap()) return std::nullopt;
  auto v = std::as_const(node_)[std::string(key)];
  if (!v.IsDefined() || v.IsNull()) {
    if (need == Need::required) {
      diag_->error(location(), child_path(key), "required section is missing");
    }
    return std::nullopt;
  }
  Section s(v, file_, child_path(key), *diag_);
  if (!s.expect_map()) return std::nullopt;
  return s;
}

std::vector<Section> Section::list_of_maps(std::string_view key, Need need) {
  known_.emplace(key);
  std::vector<Section> out;
  if (!node_.IsMap()) return out;
  auto v = std::as_const(node_)[std::string(key)];
  if (!v.IsDefined() || v.IsNull()) {
    if (need == Need::required) {
      diag_->error(location(), child_path(key), "required list is missing");
    }
    return out;
  }
  if (!v.IsSequence()) {
    error(key, "expected a list");
    return out;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    Section s(std::as_const(v)[i], file_, child_path(key) + "[" + std::to_string(i) + "]", *diag_);
    if (s.expect_map()) out.push_back(std::move(s));
  }
  return out;
}

std::optional<std::vector<std::string>> Section::string_list(std::string_view key, Need need) {
  known_.emplace(key);
  if (!node_.IsMap()) return std::nullopt;
  auto v = std::as_const(node_)[std::string(key)];
  if (!v.IsDefined() || v.IsNull()) {
    if (need == Need::required) {
      diag_->error(location(), child_path(key), "required list is missing");
    }
    return std::nullopt;
  }
  if (!v.IsSequence()) {
    error(key, "expected a list");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) {
      diag_->error(config::location_of(v[i], file_),
                   child_path(key) + "[" + std::to_string(i) + "]", "expected a single value");
      return std::nullopt;
    }
    out.push_back(v[i].Scalar());
  }
  return out;
}

namespace {
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}
}  // namespace

void Section::finish() {
  if (!node_.IsMap()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (known_.find(key) != known_.end()) continue;
    // A misspelling is one or two edits away from a key we know; name it.
    std::string hint;
    std::size_t best = 3;
    for (const auto& k : known_) {
      auto d = edit_distance(key, k);
      if (d < best && d * 3 <= std::max(key.size(), k.size())) {
        best = d;
        hint = k;
      }
    }
    diag_->error(config::location_of(it->first, file_), child_path(key),
                 hint.empty() ? "unknown key" : "unknown key (did you mean '" + hint + "'?)");
  }
}

}  // namespace estate::config
