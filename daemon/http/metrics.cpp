#include "daemon/http/metrics.hpp"

#include <stdexcept>

namespace estate::http {

namespace {

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void write_labels(std::string& out, const Labels& labels) {
  if (labels.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  out += '}';
}

// HELP text escapes backslash and newline only (exposition format 0.0.4).
std::string escape_help(std::string_view h) {
  std::string out;
  for (char c : h) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help,
                                                 std::string_view type) {
  if (!valid_name(name)) throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{std::string(help), std::string(type), {}, {}})
             .first;
  } else if (it->second.type != type) {
    throw std::invalid_argument("metric '" + std::string(name) + "' is already a " +
                                it->second.type);
  }
  return it->second;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, Labels labels) {
  for (const auto& l : labels) {
    if (!valid_name(l.first)) throw std::invalid_argument("invalid label name '" + l.first + "'");
  }
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, "counter");
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, Labels labels) {
  for (const auto& l : labels) {
    if (!valid_name(l.first)) throw std::invalid_argument("invalid label name '" + l.first + "'");
  }
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, "gauge");
  auto& slot = f.gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

int MetricsRegistry::add_collector(std::function<std::vector<Sample>()> collect) {
  std::lock_guard lock(mutex_);
  int id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return id;
}

void MetricsRegistry::remove_collector(int id) {
  std::lock_guard lock(mutex_);
  collectors_.erase(id);
}

std::string MetricsRegistry::render() const {
  struct Line {
    Labels labels;
    std::int64_t value;
  };
  struct Out {
    std::string help, type;
    std::vector<Line> lines;
  };
  std::map<std::string, Out> all;
  std::vector<std::function<std::vector<Sample>()>> collectors;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, f] : families_) {
      auto& o = all[name];
      o.help = f.help;
      o.type = f.type;
      for (const auto& [l, c] : f.counters) o.lines.push_back({l, c->value()});
      for (const auto& [l, g] : f.gauges) o.lines.push_back({l, g->value()});
    }
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
  }
  // Collectors run outside the lock: they may read the store, which takes its time.
  for (const auto& c : collectors) {
    for (auto& s : c()) {
      if (!valid_name(s.name)) continue;
      auto& o = all[s.name];
      if (o.type.empty()) {
        o.help = s.help;
        o.type = s.type;
      }
      o.lines.push_back({std::move(s.labels), s.value});
    }
  }
  std::string out;
  for (const auto& [name, o] : all) {
    out += "# HELP " + name + " " + escape_help(o.help) + "\n";
    out += "# TYPE " + name + " " + o.type + "\n";
    for (const auto& l : o.lines) {
      out += name;
      write_labels(out, l.labels);
      out += ' ';
      out += std::to_string(l.value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace estate::http
