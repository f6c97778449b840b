#include "daemon/metering/validation.hpp"

#include <algorithm>

namespace estate::metering {

using drivers::Decimal;
using drivers::Quality;
using Clock = std::chrono::system_clock;

void Validator::seed(const std::string& meter, const std::string& quantity, Decimal value,
                     Clock::time_point ts) {
  auto& s = state_[{meter, quantity}];
  s = RegisterState{};
  s.last = value;
  s.last_ts = ts;
  s.known = true;
}

bool Validator::in_night(Clock::time_point t) const {
  using namespace std::chrono;
  const auto local = t + minutes(utc_offset_minutes_);
  const auto since_midnight = local - floor<days>(local);
  const auto hour = duration_cast<hours>(since_midnight).count();
  return hour >= policy_.night_start_hour && hour < policy_.night_end_hour;
}

Validator::Verdict Validator::step(const RegisterState& s, const Decimal& from,
                                   Clock::time_point from_ts, const drivers::Reading& r,
                                   const MeterTraits& traits) const {
  Verdict v;
  auto d = drivers::subtract(r.value, from);
  if (!d) {
    v.quality = Quality::spike;
    v.note = "value out of range";
    return v;
  }
  if (d->mantissa < 0) {
    if (traits.counter_digits > 0) {
      // The register shows counter_digits whole units: it wraps at 10^digits (e.g. 999999.99
      // kWh -> 0 for six digits). A wrap is plausible when the wrapped step is small.
      std::int64_t modulus_units = 1;
      for (int i = 0; i < traits.counter_digits; ++i) modulus_units *= 10;
      auto modulus = Decimal{modulus_units, 0};
      auto wrapped = drivers::subtract(*d, Decimal{-modulus_units, 0});
      if (wrapped && wrapped->mantissa >= 0 &&
          drivers::compare(*wrapped, Decimal{modulus_units, -1}) <= 0) {  // < 10 % of range
        (void)modulus;
        v.quality = Quality::rollover;
        v.delta = wrapped;
        v.note = "counter rolled over at " + std::to_string(traits.counter_digits) + " digits";
        return v;
      }
    }
    v.quality = Quality::negative_step;
    v.note = "reading " + r.value.to_string() + " is below the previous " + from.to_string();
    return v;
  }
  const double hours =
      std::chrono::duration<double, std::ratio<3600>>(r.timestamp - from_ts).count();
  const double rate = hours > 0 ? d->to_double() / hours : 0.0;
  if (s.rates.size() >= policy_.spike_min_history && d->mantissa > 0) {
    const double mean =
        s.rates.sum() / static_cast<double>(s.rates.size());
    const double limit = policy_.spike_factor * std::max(mean, policy_.spike_floor_per_hour);
    // A step taken over no time at all (a duplicate timestamp) is judged by its size alone.
    if ((hours > 0 && rate > limit) || (hours <= 0 && d->to_double() > limit)) {
      v.quality = Quality::spike;
      v.note = "step of " + d->to_string() + " " + r.unit + " is over " +
               std::to_string(policy_.spike_factor) + "x the recent rate";
      return v;
    }
  }
  v.delta = d;
  return v;
}

Validated Validator::check(const drivers::Reading& r, const MeterTraits& traits) const {
  Validated out;
  out.reading = r;
  // Instantaneous values (power, voltage) are stored as read; no state is kept for them.
  if (!r.cumulative) return out;
  auto it = state_.find({r.meter, r.quantity});
  RegisterState s = it == state_.end() ? RegisterState{} : it->second;
  if (r.quality != Quality::good) {
    // The meter flagged the value itself; keep it, bill nothing from it.
    out.next = s;
    return out;
  }
  if (!s.known) {
    s.known = true;
    s.last = r.value;
    s.last_ts = r.timestamp;
    out.next = s;
    return out;  // the first reading is the baseline
  }
  auto v = step(s, s.last, s.last_ts, r, traits);
  if (v.quality == Quality::negative_step || v.quality == Quality::spike) {
    // Does it continue from an earlier flagged value? Then the meter really moved there.
    if (s.candidate) {
      RegisterState from_candidate = s;
      from_candidate.rates.clear();
      auto w = step(from_candidate, *s.candidate, s.candidate_ts, r, traits);
      if (w.quality == Quality::good) {
        v = w;
        v.note = "baseline moved to " + s.candidate->to_string() + " after two consistent readings";
        s.rates.clear();
      }
    }
  }
  out.reading.quality = v.quality;
  out.note = v.note;
  if (v.quality == Quality::negative_step || v.quality == Quality::spike) {
    s.candidate = r.value;
    s.candidate_ts = r.timestamp;
    out.next = s;
    return out;
  }
  out.delta = v.delta;
  const double hours =
      std::chrono::duration<double, std::ratio<3600>>(r.timestamp - s.last_ts).count();
  if (v.quality == Quality::good && hours > 0 && v.delta) {
    s.rates.push(v.delta->to_double() / hours, policy_.spike_history);
  }
  // Night flow: a water meter that keeps counting through the night window has a leak.
  if (traits.water && in_night(r.timestamp)) {
    const bool flowing = v.delta && v.delta->mantissa > 0;
    if (!flowing) {
      s.flow_since.reset();
    } else {
      if (!s.flow_since) s.flow_since = in_night(s.last_ts) ? s.last_ts : r.timestamp;
      if (r.timestamp - *s.flow_since >= policy_.night_flow_min &&
          out.reading.quality == Quality::good) {
        out.reading.quality = Quality::night_flow;
        out.note = "water flowing without a pause since " +
                   std::to_string(std::chrono::duration_cast<std::chrono::minutes>(
                                      r.timestamp - *s.flow_since)
                                      .count()) +
                   " minutes in the night window";
      }
    }
  } else {
    s.flow_since.reset();
  }
  s.last = r.value;
  s.last_ts = r.timestamp;
  s.candidate.reset();
  out.next = std::move(s);
  return out;
}

void Validator::commit(const Validated& v) {
  if (!v.reading.cumulative) return;
  state_[{v.reading.meter, v.reading.quantity}] = v.next;
}

std::optional<RegisterState> Validator::get(const std::string& meter,
                                            const std::string& quantity) const {
  auto it = state_.find({meter, quantity});
  if (it == state_.end()) return std::nullopt;
  return it->second;
}

void Validator::put(const std::string& meter, const std::string& quantity,
                    const std::optional<RegisterState>& state) {
  if (state) state_[{meter, quantity}] = *state;
  else state_.erase({meter, quantity});
}

}  // namespace estate::metering
