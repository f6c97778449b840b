// Validation of cumulative meter registers before they reach billing: counter rollover (by the
// meter's digit count), negative steps, spikes against the meter's recent history, and night
// flow on water meters (a leak). Every reading comes out with a Quality and, when it may be
// billed, the exact consumption since the previous accepted reading (delta). Flagged readings
// are kept and stored; only their delta is withheld (negative step, spike).
//
// A flagged value is not taken as the new baseline at once: if the next reading continues from
// the baseline the flagged one was a misread; if it continues from the flagged value (a meter
// exchanged or reset), the baseline moves there and billing resumes from it.
//
// Thread-safety: none; the recorder uses one Validator on the store's writer thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <algorithm>
#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "drivers/meter/reading.hpp"

namespace estate::metering {

struct ValidationPolicy {
  double spike_factor = 10.0;          // step rate above this x the recent mean rate is a spike
  double spike_floor_per_hour = 1.0;   // ... and above this many units per hour
  std::size_t spike_history = 8;       // accepted steps remembered per register
  std::size_t spike_min_history = 3;   // no spike verdict before this many steps are known
  int night_start_hour = 2;            // local time window in which a water meter should rest
  int night_end_hour = 5;
  std::chrono::minutes night_flow_min{60};  // continuous flow this long in the window: a leak
};

struct MeterTraits {
  int counter_digits = 0;     // digits before the decimal point; 0: never rolls over
  bool water = false;         // water / hot_water: night-flow check applies
};

// The rates of a register's last accepted steps, oldest first, held inline: a register's state
// is copied with every reading it validates and a site keeps tens of thousands of them, so it
// allocates nothing (a std::deque took a 512-byte block per register).
class RecentRates {
 public:
  static constexpr std::size_t capacity = 16;

  // Appends `rate`, dropping the oldest beyond min(keep, capacity).
  void push(double rate, std::size_t keep) {
    keep = std::clamp<std::size_t>(keep, 1, capacity);
    if (size_ == capacity) drop_oldest();
    rates_[(head_ + size_) % capacity] = rate;
    ++size_;
    while (size_ > keep) drop_oldest();
  }
  void clear() { size_ = 0; head_ = 0; }
  std::size_t size() const { return size_; }
  double sum() const {
    double total = 0;
    for (std::size_t i = 0; i < size_; ++i) total += rates_[(head_ + i) % capacity];
    return total;
  }

 private:
  void drop_oldest() {
    head_ = (head_ + 1) % capacity;
    --size_;
  }
  std::array<double, capacity> rates_{};
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// What the validator remembers of one register (meter, quantity).
struct RegisterState {
  drivers::Decimal last;                               // the accepted baseline
  std::chrono::system_clock::time_point last_ts{};
  RecentRates rates;                                   // units per hour of accepted steps
  std::optional<drivers::Decimal> candidate;           // a flagged value that may become baseline
  std::chrono::system_clock::time_point candidate_ts{};
  std::optional<std::chrono::system_clock::time_point> flow_since;  // night flow began
  bool known = false;
};

struct Validated {
  drivers::Reading reading;              // quality set
  std::optional<drivers::Decimal> delta; // consumption to bill; empty when withheld or first
  std::string note;                      // why it was flagged, for the event log
  RegisterState next;                    // the register's state once this reading is stored
};

class Validator {
 public:
  explicit Validator(ValidationPolicy policy = {}, int utc_offset_minutes = 480)
      : policy_(policy), utc_offset_minutes_(utc_offset_minutes) {}

  // The last accepted value of a register (from the store at start-up).
  void seed(const std::string& meter, const std::string& quantity, drivers::Decimal value,
            std::chrono::system_clock::time_point ts);

  // Validates without changing state; commit() applies the result once it is stored.
  Validated check(const drivers::Reading& r, const MeterTraits& traits) const;
  void commit(const Validated& v);

  Validated validate(const drivers::Reading& r, const MeterTraits& traits) {
    auto v = check(r, traits);
    commit(v);
    return v;
  }

  std::size_t registers() const { return state_.size(); }
  // The state of one register, and putting it back (undo of a batch that was not stored).
  std::optional<RegisterState> get(const std::string& meter, const std::string& quantity) const;
  void put(const std::string& meter, const std::string& quantity,
           const std::optional<RegisterState>& state);

 private:
  struct Verdict {
    drivers::Quality quality = drivers::Quality::good;
    std::optional<drivers::Decimal> delta;
    std::string note;
  };
  Verdict step(const RegisterState& s, const drivers::Decimal& from,
               std::chrono::system_clock::time_point from_ts, const drivers::Reading& r,
               const MeterTraits& traits) const;
  bool in_night(std::chrono::system_clock::time_point t) const;

  ValidationPolicy policy_;
  int utc_offset_minutes_;
  std::map<std::pair<std::string, std::string>, RegisterState> state_;
};

}  // namespace estate::metering
