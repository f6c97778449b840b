#include "daemon/record/readings.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <utility>

#include "daemon/record/json_text.hpp"
#include "daemon/store/outbox_batch.hpp"
#include "daemon/store/store.hpp"

namespace estate::record {

namespace {

using json = nlohmann::ordered_json;

// A JSON string as nlohmann::json::dump() writes it: ", \\ and control characters escaped
// (\u00xx lower-case), UTF-8 as is. Text with a byte >= 0x80 goes through nlohmann, which also
// refuses invalid UTF-8 as before.
void put_string(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) {
      out += json(std::string(s)).dump();
      return;
    }
  }
  append_json_string(out, s);
}

// A reading's record, written straight into text: it is the one record made thousands of times
// a second, and its members are all strings. Same bytes as Body/emit would give.
std::string encode_reading(const store::OutboxAppend& e, const Reading& r) {
  std::string out;
  out.reserve(160 + r.meter.size() + r.ts.size());
  out += "{\"v\":";
  out += std::to_string(envelope_version);
  out += ",\"id\":";
  put_string(out, e.id);
  out += ",\"seq\":";
  out += std::to_string(e.seq);
  out += ",\"ts\":";
  put_string(out, r.ts);
  out += ",\"kind\":\"reading\",\"meter\":";
  put_string(out, r.meter);
  out += ",\"medium\":";
  put_string(out, r.medium);
  out += ",\"quantity\":";
  put_string(out, r.quantity);
  out += ",\"value\":";
  put_string(out, r.value.to_string());
  out += ",\"unit\":";
  put_string(out, r.unit);
  out += ",\"quality\":";
  put_string(out, drivers::to_string(r.quality));
  if (r.delta) {
    out += ",\"delta\":";
    put_string(out, r.delta->to_string());
  }
  // The M-Bus place of a value other than the meter's current total.
  for (const auto& [key, n] : {std::pair{",\"storage\":", r.storage}, std::pair{",\"tariff\":", r.tariff},
                               std::pair{",\"subunit\":", r.subunit}}) {
    if (n == 0) continue;
    out += key;
    out += std::to_string(n);
  }
  if (!r.meter_time.empty()) {
    out += ",\"meter_time\":";
    put_string(out, r.meter_time);
  }
  out += '}';
  return out;
}

}  // namespace

std::vector<Appended> append(store::Database& db, std::string_view gateway,
                             const std::vector<Reading>& readings) {
  std::vector<Appended> out(readings.size());
  auto as = store::append_outbox_batch(db, "readings", true, gateway, readings.size(),
                                       [&](std::size_t i, const store::OutboxAppend& e) {
                                         out[i].payload = encode_reading(e, readings[i]);
                                         return out[i].payload;
                                       });
  for (std::size_t i = 0; i < as.size(); ++i) {
    out[i].seq = as[i].seq;
    out[i].id = std::move(as[i].id);
  }
  return out;
}

}  // namespace estate::record
