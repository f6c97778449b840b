#include "daemon/metering/recorder.hpp"

#include <spdlog/spdlog.h>

#include <tuple>

#include "daemon/record/readings.hpp"

namespace estate::metering {

using Clock = std::chrono::system_clock;

struct Recorder::Statements {
  store::Statement insert;
  store::Statement event;
};

Recorder::Recorder(store::Store& store, std::string gateway_id, int utc_offset_minutes,
                   ValidationPolicy policy, ReadingSink* sink)
    : store_(store),
      gateway_id_(std::move(gateway_id)),
      utc_offset_minutes_(utc_offset_minutes),
      sink_(sink),
      validator_(policy, utc_offset_minutes),
      alarms_(gateway_id_) {}

void Recorder::load_alarms(const std::set<std::string>& configured) {
  const auto ts = store::iso8601_now(utc_offset_minutes_);
  store_.write_sync([this, &configured, &ts](store::Database& db) {
    try {
      alarms_.load(db, configured, ts);
    } catch (...) {
      alarms_.invalidate();
      throw;
    }
  });
}

void Recorder::device_event(const std::string& kind, const std::string& device,
                            const std::string& detail) {
  auto ts = store::iso8601_now(utc_offset_minutes_);
  store_.write([this, ts, kind, device, detail](store::Database& db) {
    db.prepare("INSERT INTO events(ts, kind, source, detail) VALUES(?1, ?2, ?3, ?4)")
        .bind(1, ts).bind(2, kind).bind(3, device).bind(4, detail).run();
    try {
      if (kind == "device_offline") {
        alarms_.raise(db, "meter_offline", device, record::Severity::major, detail, ts);
      } else if (kind == "device_online") {
        alarms_.clear(db, "meter_offline", device, detail, ts);
      } else if (kind == "meter_command") {
        // "<command>: done[ (what was read back)]" when the meter confirmed it.
        const auto colon = detail.find(':');
        if (colon != std::string::npos && detail.compare(colon, 6, ": done") == 0) {
          std::string command = detail.substr(0, colon);
          for (auto& c : command) c = c == ' ' ? '_' : c;
          alarms_.on_command(db, device, command, ts);
        }
      }
    } catch (...) {
      alarms_.invalidate();
      throw;
    }
  });
}

void Recorder::load_baselines() {
  // The last accepted (billable) value of each register; flagged values are not baselines.
  store_.write_sync([this](store::Database& db) {
    auto st = db.prepare(
        "SELECT meter, quantity, value, ts_ms FROM readings r WHERE id = ("
        " SELECT max(id) FROM readings q WHERE q.meter = r.meter AND q.quantity = r.quantity"
        " AND q.cumulative = 1 AND q.quality IN ('good', 'rollover', 'night_flow'))");
    while (st.step()) {
      auto value = drivers::parse_decimal(st.text(2));
      if (!value) continue;
      validator_.seed(st.text(0), st.text(1), *value,
                      Clock::time_point(std::chrono::milliseconds(st.int64(3))));
    }
  });
}

void Recorder::store_all(store::Database& db, const std::vector<Validated>& vs,
                         const std::string& medium, RecordResult& result) {
  if (!st_) {
    st_ = std::make_shared<Statements>(Statements{
        db.prepare("INSERT INTO readings(seq, meter, quantity, value, unit, delta, quality,"
                   " cumulative, ts, ts_ms, billed)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
        db.prepare("INSERT INTO events(ts, kind, source, detail, seq) VALUES(?1, ?2, ?3, ?4, NULL)")});
  }
  // The records for the platform first: a device's readings take consecutive seqs in one step
  // (value and delta as the meter's exact decimal text); then the readings rows with their seq.
  std::vector<record::Reading> recs(vs.size());
  for (std::size_t i = 0; i < vs.size(); ++i) {
    const auto& r = vs[i].reading;
    // A poll's readings share one timestamp: its text is made once.
    if (ts_text_.empty() || r.timestamp != ts_of_text_) {
      ts_of_text_ = r.timestamp;
      ts_text_ = store::iso8601(r.timestamp, utc_offset_minutes_);
    }
    auto& rec = recs[i];
    rec.ts = ts_text_;
    rec.meter = r.meter;
    rec.medium = medium;
    rec.quantity = r.quantity;
    rec.value = r.value;
    rec.unit = r.unit;
    rec.quality = r.quality;
    rec.delta = vs[i].delta;
    rec.storage = r.storage;
    rec.tariff = r.tariff;
    rec.subunit = r.subunit;
    rec.meter_time = r.meter_time;
  }
  auto appended = record::append(db, gateway_id_, recs);

  auto& ins = st_->insert;
  for (std::size_t i = 0; i < vs.size(); ++i) {
    const auto& v = vs[i];
    const auto& r = v.reading;
    // A stored value, another tariff's or subunit's register (M-Bus storage, tariff, subunit
    // N) is for the platform only: the readings table holds the meter's current registers,
    // which validation, billing, alarms and the dashboard read.
    if (r.storage != 0 || r.tariff != 0 || r.subunit != 0) {
      ++result.stored;
      continue;
    }
    StoredReading s;
    s.seq = appended[i].seq;
    s.record_id = std::move(appended[i].id);
    s.ts = std::move(recs[i].ts);
    s.ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.timestamp.time_since_epoch())
                  .count();
    const auto value_text = r.value.to_string();
    std::optional<std::string> delta_text;
    if (v.delta) delta_text = v.delta->to_string();
    ins.bind(1, s.seq).bind(2, r.meter).bind(3, r.quantity).bind(4, value_text).bind(5, r.unit);
    ins.bind(6, delta_text).bind(7, drivers::to_string(r.quality)).bind(8, r.cumulative ? 1 : 0);
    ins.bind(9, s.ts).bind(10, s.ts_ms).bind(11, r.billed ? 1 : 0);
    // The rowid without RETURNING: SQLite materialises RETURNING rows in a temporary table.
    ins.run();
    s.reading_id = db.last_insert_rowid();

    if (r.quality != drivers::Quality::good) {
      ++result.flagged;
      std::string note = r.meter + " " + r.quantity + " " + value_text + " " + r.unit + ": " +
                         std::string(drivers::to_string(r.quality)) +
                         (v.note.empty() ? "" : " (" + v.note + ")");
      st_->event.bind(1, s.ts).bind(2, "reading_flagged").bind(3, r.meter).bind(4, note).run();
      result.notes.push_back(std::move(note));
    }
    alarms_.on_reading(db, v, s.ts);
    if (sink_) {
      s.meter = r.meter;
      s.medium = medium;
      s.quantity = r.quantity;
      s.value = r.value;
      s.unit = r.unit;
      s.quality = r.quality;
      s.delta = v.delta;
      s.billed = r.billed;
      sink_->on_reading(db, s);
    }
    ++result.stored;
  }
}

void Recorder::record(std::vector<drivers::Reading> readings, MeterTraits traits,
                      std::string medium, Done done) {
  auto result = std::make_shared<RecordResult>();
  pending_.fetch_add(1, std::memory_order_relaxed);
  store_.write(
      [this, readings = std::move(readings), traits, medium = std::move(medium),
       result](store::Database& db) {
        // Validator state moves only with what is stored: undo on any failure of this job. The
        // readings are validated in order (a register read twice sees its first value), then
        // stored together.
        std::vector<std::pair<const drivers::Reading*, std::optional<RegisterState>>> undo;
        std::vector<Validated> vs;
        vs.reserve(readings.size());
        try {
          for (const auto& r : readings) {
            if (r.cumulative) undo.emplace_back(&r, validator_.get(r.meter, r.quantity));
            vs.push_back(validator_.check(r, traits));
            validator_.commit(vs.back());
          }
          store_all(db, vs, medium, *result);
        } catch (...) {
          for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
            validator_.put(it->first->meter, it->first->quantity, it->second);
          }
          alarms_.invalidate();  // the job's alarm rows are rolled back with it
          *result = RecordResult{};
          throw;
        }
      },
      [this, done = std::move(done), result](std::exception_ptr e) {
        pending_.fetch_sub(1, std::memory_order_relaxed);
        if (done) done(e, *result);
      });
}

void Recorder::apply_retention(std::chrono::hours max_age,
                               std::function<void(std::exception_ptr, std::int64_t)> done) {
  auto dropped = std::make_shared<std::int64_t>(0);
  const auto cutoff = Clock::now() - max_age;
  const auto cutoff_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(cutoff.time_since_epoch()).count();
  const auto cutoff_s = cutoff_ms / 1000;
  store_.write(
      [cutoff_ms, cutoff_s, dropped](store::Database& db) {
        // Bounded chunks keep the writer's transaction short; the next run takes the rest.
        auto drop = db.prepare(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE stream = 'readings'"
            " AND droppable = 1 AND created_at < ?1 ORDER BY seq LIMIT 5000)");
        drop.bind(1, cutoff_s).run();
        *dropped = sqlite3_changes(db.handle());
        if (*dropped > 0) {
          db.prepare("INSERT INTO stream_counts(stream, dropped) VALUES('readings', ?1) "
                     "ON CONFLICT(stream) DO UPDATE SET dropped = dropped + excluded.dropped")
              .bind(1, *dropped)
              .run();
        }
        db.prepare("DELETE FROM readings WHERE id IN (SELECT id FROM readings WHERE ts_ms < ?1"
                   " ORDER BY id LIMIT 5000)")
            .bind(1, cutoff_ms)
            .run();
      },
      [done = std::move(done), dropped](std::exception_ptr e) {
        if (done) done(e, *dropped);
      });
}

}  // namespace estate::metering
