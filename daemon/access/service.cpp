#include "daemon/access/service.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "daemon/access/bridge_lists.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/record/record.hpp"
#include "daemon/privacy/privacy.hpp"

namespace estate::access {

namespace {

// List entries of a store older than hashed lists (shown NULL) hold the credential itself:
// replaced by its hash and masked form. Returns how many.
std::size_t rehash_list_entries(store::Database& db, const CredentialHasher& hasher) {
  struct Row {
    std::string list, kind, value, pass_id;
  };
  std::vector<Row> clear;
  auto old = db.prepare(
      "SELECT list, kind, value, pass_id FROM access_entries WHERE shown IS NULL");
  while (old.step()) clear.push_back({old.text(0), old.text(1), old.text(2), old.text(3)});
  old.reset();
  auto upd = db.prepare(
      "UPDATE OR REPLACE access_entries SET value = ?4, shown = ?5 "
      "WHERE list = ?1 AND kind = ?2 AND value = ?3");
  for (const auto& r : clear) {
    const auto k = kind_from_string(r.kind).value_or(CredentialKind::card);
    upd.bind(1, r.list).bind(2, r.kind).bind(3, r.value);
    upd.bind(4, hasher.hash(k, r.value)).bind(5, shown_in_list(k, r.value, r.pass_id));
    upd.run();
  }
  return clear.size();
}

// Records which key the stored hashes are made under (meta access_hash_key_id); when that
// changed and lists are stored, logs an error and adds an `events` row privacy.key_changed.
void check_hash_key(store::Database& db, const CredentialHasher& hasher) {
  auto st = db.prepare("SELECT value FROM meta WHERE key = 'access_hash_key_id'");
  const std::string before = st.step() ? st.text(0) : std::string();
  st.reset();
  if (before == hasher.key_id()) return;
  const std::int64_t entries = db.query_int(
      "SELECT count(*) FROM access_entries WHERE shown IS NOT NULL", 0);
  if (!before.empty() && entries > 0) {
    spdlog::error("access: the stored lists ({} entries) were hashed under another privacy key "
                  "(key id {}, now {}): no card, plate or QR code matches them until the platform "
                  "sends each list again",
                  entries, before, hasher.key_id());
    nlohmann::json detail{{"before", before}, {"now", hasher.key_id()}, {"entries", entries}};
    db.prepare("INSERT INTO events(ts, kind, source, detail) "
               "VALUES(?1, 'privacy.key_changed', 'access', ?2)")
        .bind(1, store::iso8601_now(0))
        .bind(2, detail.dump())
        .run();
  }
  db.prepare("INSERT INTO meta(key, value) VALUES('access_hash_key_id', ?1) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind(1, hasher.key_id())
      .run();
}

}  // namespace

privacy::Key load_privacy_key(const store::Store& store, const AccessConfig& cfg) {
  if (!cfg.privacy_key_file.empty()) return privacy::read_key_file(cfg.privacy_key_file);
  return privacy::load_or_create_key_file(store.state_dir() / "privacy.key");
}

AccessService::AccessService(store::Store& store, std::string gateway_id, AccessConfig cfg,
                             std::shared_ptr<const ArrearsSource> arrears)
    : store_(store),
      gateway_id_(std::move(gateway_id)),
      hasher_(std::make_shared<const CredentialHasher>(load_privacy_key(store, cfg))) {
  key_of_ = [h = hasher_](CredentialKind kind, std::string_view value) {
    return h->hash(kind, value);
  };
  const int utc_offset = cfg.utc_offset_minutes;
  config_.store(std::make_shared<const AccessConfig>(std::move(cfg)));
  arrears_.store(arrears ? std::move(arrears) : std::make_shared<const NoArrears>());
  // Presence rows of an older store hold the credential itself: replaced by its hash once.
  store_.write_sync([this, utc_offset](store::Database& db) {
    std::vector<std::pair<std::string, std::string>> clear;
    auto old = db.prepare("SELECT kind, value FROM access_presence");
    while (old.step()) {
      if (!is_credential_hash(old.text(1))) clear.emplace_back(old.text(0), old.text(1));
    }
    for (const auto& [kind, value] : clear) {
      const auto k = kind_from_string(kind).value_or(CredentialKind::card);
      db.prepare("INSERT OR REPLACE INTO access_presence(kind, value, inside, ts) "
                 "SELECT kind, ?3, inside, ts FROM access_presence WHERE kind = ?1 AND value = ?2")
          .bind(1, kind)
          .bind(2, value)
          .bind(3, credential_hash(k, value))
          .run();
      db.prepare("DELETE FROM access_presence WHERE kind = ?1 AND value = ?2")
          .bind(1, kind)
          .bind(2, value)
          .run();
    }
    // Stored hashes made under another key match nothing: said loudly, once per key change
    // (a store restored without its privacy key, another security.privacy.key_file).
    check_hash_key(db, *hasher_);
    // Lists of an older store hold credentials in clear: hashed once, in this transaction.
    if (auto n = rehash_list_entries(db, *hasher_); n > 0) {
      spdlog::info("access: {} list entries of an older store now kept as keyed hashes", n);
    }
    // The bridge's items likewise (rehash_bridge_lists), then lists it holds in a newer version
    // than the access tables (received while no gate was configured) are taken over.
    sync_from_bridge(db, store::iso8601_now(utc_offset), *hasher_);
  });
  auto db = store_.open_reader();
  index_.store(load_index(db));
  auto p = db.prepare("SELECT kind, value FROM access_presence WHERE inside = 1");
  while (p.step()) {
    state_.inside.insert(presence_key(kind_from_string(p.text(0)).value_or(CredentialKind::card),
                                      p.text(1)));
  }
  auto u = db.prepare("SELECT pass_id, uses FROM access_pass_uses");
  while (u.step()) state_.pass_uses[u.text(0)] = u.int64(1);
}

AccessConfig AccessService::config() const { return *config_.load(); }

std::string AccessService::credential_hash(CredentialKind kind, std::string_view value) const {
  return hasher_->hash(kind, value);
}

void AccessService::set_config(AccessConfig cfg) {
  config_.store(std::make_shared<const AccessConfig>(std::move(cfg)));
}

void AccessService::set_arrears_source(std::shared_ptr<const ArrearsSource> arrears) {
  arrears_.store(arrears ? std::move(arrears) : std::make_shared<const NoArrears>());
}

Decision AccessService::decide(const AccessRequest& req) {
  // Computed outside the lock: the index and who is inside are keyed by this hash, never by
  // the value.
  const std::string hash = credential_hash(req.kind, req.value);
  const auto index = index_.load();
  const auto cfg = config_.load();
  const auto arrears = arrears_.load();
  Decision d;
  bool entered = false, left = false;
  std::int64_t uses = -1;
  {
    // Evaluate and record the passage under one lock so two lanes cannot both spend the last
    // use of a visitor pass or both let the same card in.
    std::lock_guard lock(state_mutex_);
    d = evaluate(*index, *cfg, *arrears, state_, req, hash, key_of_);
    if (d.lets_through()) {
      const std::string key = presence_key(req.kind, hash);
      if (req.lane == Lane::entry) {
        state_.inside.insert(key);
        entered = true;
        if (!d.pass_id.empty()) uses = ++state_.pass_uses[d.pass_id];
      } else {
        state_.inside.erase(key);
        left = true;
      }
    }
  }
  record(req, hash, d, entered, left, uses);
  return d;
}

void AccessService::record(const AccessRequest& req, const std::string& hash, const Decision& d,
                           bool entered, bool left, std::int64_t uses) {
  const auto cfg = config_.load();
  const std::string shown = shown_credential(req.kind, req.value);
  spdlog::info("gate {} {}: {} {} -> {} ({})", req.gate, to_string(req.lane), to_string(req.kind),
               shown, to_string(d.verdict), d.reason);
  const std::string ts = parking::format_iso8601(req.time_utc, cfg->utc_offset_minutes);
  record::AccessDecision fields;
  fields.ts = ts;
  fields.gate = req.gate;
  fields.lane = to_string(req.lane);
  fields.credential_kind = to_string(req.kind);
  fields.credential = shown;
  fields.verdict = to_string(d.verdict);
  fields.reason = d.reason;
  fields.holder = to_string(d.holder);
  fields.room = d.room;
  if (d.arrears_level > 0) fields.arrears_level = d.arrears_level;
  fields.pass_id = d.pass_id;
  if (uses >= 0) fields.pass_uses = uses;
  // Lets the platform tell one vehicle's passages apart without learning its plate.
  fields.credential_hash = hash;
  const CameraRead cam = req.camera.value_or(CameraRead{});
  if (req.camera) {
    nlohmann::ordered_json c{{"device", cam.camera}, {"model", cam.model}};
    if (!cam.colour.empty()) c["colour"] = cam.colour;
    if (cam.confidence >= 0) c["confidence"] = cam.confidence;
    if (cam.channel >= 0) c["channel"] = cam.channel;
    if (!cam.snapshot.empty()) c["snapshot"] = cam.snapshot;
    fields.camera = std::move(c);
  }
  const std::string kind(to_string(req.kind));
  const std::string value = hash;
  const std::string pass_id = d.pass_id;
  struct Row {
    std::string gate, lane, shown, verdict, reason, holder, room;
    std::int64_t unix_s;
  };
  Row row{req.gate,
          std::string(to_string(req.lane)),
          shown,
          std::string(to_string(d.verdict)),
          d.reason,
          std::string(to_string(d.holder)),
          d.room,
          req.time_utc};
  store_.write(
      [gw = gateway_id_, ts, fields, kind, value, pass_id, entered, left, uses,
       row = std::move(row), cam, has_cam = req.camera.has_value()](store::Database& db) {
        const auto sent = record::append(db, gw, fields);
        // The guard's local record; deleted by retention only after the outbox record was
        // acknowledged (store::expire_access_events).
        // A camera's read keeps its picture as a file reference (never the image itself).
        auto ins = db.prepare(
              "INSERT INTO access_events(ts, unix_s, gate, lane, credential_kind, credential, "
              "credential_hash, verdict, reason, holder, room, outbox_seq, camera, "
              "plate_colour, confidence, channel, snapshot) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
              "?17)");
        ins
            .bind(1, ts)
            .bind(2, row.unix_s)
            .bind(3, row.gate)
            .bind(4, row.lane)
            .bind(5, kind)
            .bind(6, row.shown)
            .bind(7, value)
            .bind(8, row.verdict)
            .bind(9, row.reason)
            .bind(10, row.holder)
            .bind(11, row.room)
            .bind(12, sent.seq)
            .bind(13, cam.camera)
            .bind(14, cam.colour)
            .bind(17, cam.snapshot);
        if (has_cam && cam.confidence >= 0) ins.bind(15, static_cast<std::int64_t>(cam.confidence));
        if (has_cam && cam.channel >= 0) ins.bind(16, static_cast<std::int64_t>(cam.channel));
        ins.run();
        if (entered || left) {
          auto st = db.prepare(
              "INSERT INTO access_presence(kind, value, inside, ts) VALUES (?1, ?2, ?3, ?4) "
              "ON CONFLICT(kind, value) DO UPDATE SET inside = excluded.inside, ts = excluded.ts");
          st.bind(1, kind).bind(2, value).bind(3, entered ? 1 : 0).bind(4, ts);
          st.run();
        }
        if (uses >= 0) {
          auto st = db.prepare(
              "INSERT INTO access_pass_uses(pass_id, uses) VALUES (?1, ?2) "
              "ON CONFLICT(pass_id) DO UPDATE SET uses = excluded.uses");
          st.bind(1, pass_id).bind(2, uses);
          st.run();
        }
      },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("access: recording a decision failed: {}", ex.what());
        }
      });
}

ApplyResult AccessService::apply_list(const ListUpdate& update,
                                      const std::optional<audit::Entry>& audit) {
  return apply_owned(ListUpdate(update), audit);
}

ApplyResult AccessService::apply_owned(ListUpdate update,
                                       const std::optional<audit::Entry>& audit) {
  // Hashed before anything is written or indexed.
  hasher_->protect(update);
  std::lock_guard lock(apply_mutex_);
  ApplyResult r;
  const std::int64_t current = index_.load()->block(update.list)->version();
  r.version = current;
  if (update.version <= current) {
    r.error = "list " + std::string(to_string(update.list)) + " version " +
              std::to_string(update.version) + " is not newer than the applied version " +
              std::to_string(current);
    return r;
  }
  // Built before the write so the swap after the commit is instant.
  auto block = std::make_shared<const ListBlock>(update);
  const auto cfg = config_.load();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string ts = parking::format_iso8601(now, cfg->utc_offset_minutes);
  record::ListApplied ev;
  ev.ts = ts;
  ev.list = to_string(update.list);
  ev.version = update.version;
  ev.entries = static_cast<std::int64_t>(update.entries.size());
  try {
    store_.write_sync([&](store::Database& db) {
      write_list(db, update, ts);
      record::append(db, gateway_id_, ev);
      if (audit) audit::append(db, *audit);
    });
  } catch (const std::exception& e) {
    r.error = e.what();
    return r;
  }
  install(std::move(block));
  spdlog::info("access: list {} version {} applied ({} entries)", to_string(update.list),
               update.version, update.entries.size());
  r.ok = true;
  r.version = update.version;
  return r;
}

bool AccessService::install(std::shared_ptr<const ListBlock> block) {
  auto current = index_.load();
  std::shared_ptr<const Index> next;
  do {
    if (current->block(block->list())->version() >= block->version()) return false;
    next = current->with(block);
  } while (!index_.compare_exchange_weak(current, next));
  return true;
}

ApplyResult AccessService::apply_list_json(const nlohmann::json& doc,
                                           const std::optional<audit::Entry>& audit) {
  std::string error;
  auto u = parse_list_update(doc, error);
  if (!u) return ApplyResult{false, 0, error};
  return apply_owned(std::move(*u), audit);
}

}  // namespace estate::access
