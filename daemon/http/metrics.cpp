#include "daemon/http/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
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

// A sample value or bucket bound as the text format writes a float: shortest form that reads
// back the same ("0.005", "0.25", "12").
std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  for (int precision = 1; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
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

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  std::lock_guard lock(mutex_);
  ++counts_[i];
  sum_ += value;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mutex_);
  std::int64_t running = 0;
  for (auto c : counts_) s.cumulative.push_back(running += c);
  s.sum = sum_;
  s.count = running;
  return s;
}

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help,
                                                 std::string_view type) {
  if (!valid_name(name)) throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{std::string(help), std::string(type), {}, {}, {}})
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

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      std::vector<double> bounds, Labels labels) {
  for (const auto& l : labels) {
    if (!valid_name(l.first) || l.first == "le") {
      throw std::invalid_argument("invalid label name '" + l.first + "'");
    }
  }
  if (!std::is_sorted(bounds.begin(), bounds.end())) {
    throw std::invalid_argument("histogram '" + std::string(name) + "': bounds not ascending");
  }
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, "histogram");
  auto& slot = f.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
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
    std::string histogram_lines;  // a histogram family's, already rendered
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
      for (const auto& [l, h] : f.histograms) {
        const auto snap = h->snapshot();
        const std::string& family_name = name;  // clang before 16 captures no structured binding
        auto line = [&](std::string_view suffix, const Labels& labels, const std::string& v) {
          o.histogram_lines += family_name;
          o.histogram_lines += suffix;
          write_labels(o.histogram_lines, labels);
          o.histogram_lines += ' ' + v + '\n';
        };
        for (std::size_t i = 0; i <= snap.bounds.size(); ++i) {
          Labels with_le = l;
          with_le.emplace_back("le", i < snap.bounds.size() ? format_double(snap.bounds[i]) : "+Inf");
          line("_bucket", with_le, std::to_string(snap.cumulative[i]));
        }
        line("_sum", l, format_double(snap.sum));
        line("_count", l, std::to_string(snap.count));
      }
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
    out += o.histogram_lines;
  }
  return out;
}

}  // namespace estate::http
