// A registry of Prometheus metrics that every component can register into: counters and gauges
// with labels, plus collectors that compute values at scrape time (store backlog, queue depth).
// render() writes the Prometheus text exposition format 0.0.4, one HELP/TYPE block per family.
// Thread-safety: every member may be called from any thread; counter/gauge handles are atomics
// that stay valid as long as the registry lives.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace estate::http {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::int64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t by) { value_.fetch_add(by, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Observations (durations in seconds) counted into buckets of fixed upper bounds, rendered as a
// Prometheus histogram: <name>_bucket{le=...} (cumulative), <name>_sum and <name>_count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // ascending upper bounds; +Inf is implied
  void observe(double value);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::int64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::int64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<std::int64_t> counts_;  // per bound, then +Inf; not cumulative
  double sum_ = 0;
};

// What a collector emits at scrape time.
struct Sample {
  std::string name;  // family name, e.g. "estate_outbox_backlog"
  std::string help;
  std::string type;  // "counter" or "gauge"
  Labels labels;
  std::int64_t value = 0;
};

class MetricsRegistry {
 public:
  // Returns the counter of `name` with exactly these labels, creating it on first use. A name
  // must be [a-zA-Z_:][a-zA-Z0-9_:]* and keep one type; violations throw std::invalid_argument
  // (a programming error, found at start-up).
  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  // `bounds` are used when the histogram is created (the first call for these labels).
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       Labels labels = {});
  // Adds a function called on every scrape. Returns an id for remove_collector().
  int add_collector(std::function<std::vector<Sample>()> collect);
  void remove_collector(int id);

  // The whole registry in Prometheus text format (families sorted by name).
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(std::string_view name, std::string_view help, std::string_view type);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::map<int, std::function<std::vector<Sample>()>> collectors_;
  int next_collector_ = 1;
};

// Label values escaped as the text format requires (backslash, quote, newline).
std::string escape_label_value(std::string_view v);

}  // namespace estate::http
