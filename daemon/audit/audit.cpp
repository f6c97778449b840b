#include "daemon/audit/audit.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <map>
#include <memory>
#include <stdexcept>

#include "daemon/record/record.hpp"
#include "daemon/store/store.hpp"
#include "protocols/common/hex.hpp"

namespace estate::audit {

const std::string genesis_hash(64, '0');

namespace {

using json = nlohmann::json;

// Lower-case hex of exactly 64 digits to 32 bytes; nullopt for anything else (a tampered
// prev_hash is then hashed as 32 zero bytes and the entry fails its own check).
std::optional<std::array<std::uint8_t, 32>> hash_bytes(std::string_view hex) {
  if (std::any_of(hex.begin(), hex.end(), [](char c) { return c >= 'A' && c <= 'F'; })) {
    return std::nullopt;
  }
  return protocols::parse_hex_exact<32>(hex);
}

void netstring(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
  out += ',';
}

bool valid_kind(std::string_view k) {
  if (k.empty() || k.size() > 64 || k.front() == '.' || k.back() == '.') return false;
  char prev = 0;
  for (char c : k) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

StoredEntry read_row(const store::Statement& st) {
  StoredEntry e;
  e.seq = st.int64(0);
  e.ts = st.text(1);
  e.unix_ms = st.int64(2);
  e.kind = st.text(3);
  e.actor = st.text(4);
  e.subject = st.text(5);
  e.room = st.text(6);
  e.detail = st.text(7);
  e.prev_hash = st.text(8);
  e.hash = st.text(9);
  return e;
}

constexpr std::string_view columns =
    "seq, ts, unix_ms, kind, actor, subject, room, detail, prev_hash, hash";

// Ends a read transaction however the walk ends.
struct ReadTransaction {
  explicit ReadTransaction(store::Database& db) : db_(db) { db_.exec("BEGIN"); }
  ~ReadTransaction() {
    try {
      db_.exec("COMMIT");
    } catch (...) {
      // A read transaction has nothing to lose; the connection is closed by its owner.
    }
  }
  store::Database& db_;
};

std::string short_hash(const std::string& h) { return h.size() > 16 ? h.substr(0, 16) + "…" : h; }

}  // namespace

std::string entry_hash(const StoredEntry& e) {
  std::string canonical;
  canonical.reserve(128 + e.ts.size() + e.kind.size() + e.actor.size() + e.subject.size() +
                    e.room.size() + e.detail.size());
  netstring(canonical, std::to_string(e.seq));
  netstring(canonical, e.ts);
  netstring(canonical, std::to_string(e.unix_ms));
  netstring(canonical, e.kind);
  netstring(canonical, e.actor);
  netstring(canonical, e.subject);
  netstring(canonical, e.room);
  netstring(canonical, e.detail);

  const auto prev = hash_bytes(e.prev_hash).value_or(std::array<std::uint8_t, 32>{});
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), prev.data(), prev.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), canonical.data(), canonical.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  return protocols::to_hex(std::span(md, len));
}

Head head(store::Database& db) {
  auto st = db.prepare("SELECT seq, hash FROM audit_head WHERE id = 1");
  if (!st.step()) throw store::Error(SQLITE_CORRUPT, "audit_head row is missing");
  return {st.int64(0), st.text(1)};
}

StoredEntry append(store::Database& db, const Entry& in) {
  if (!valid_kind(in.kind)) {
    throw std::invalid_argument("audit entry kind '" + in.kind +
                                "' is not dotted lower case such as money.topup");
  }
  if (in.actor.empty()) throw std::invalid_argument("audit entry " + in.kind + " has no actor");
  StoredEntry e;
  e.kind = in.kind;
  e.actor = in.actor;
  e.subject = in.subject;
  e.room = in.room;
  try {
    auto detail = json::parse(in.detail_json.empty() ? "{}" : in.detail_json);
    if (!detail.is_object()) throw std::invalid_argument("not an object");
    e.detail = detail.dump();  // std::map-backed json: sorted keys, compact
  } catch (const std::exception& x) {
    throw std::invalid_argument("audit entry " + in.kind + ": detail must be a JSON object (" +
                                x.what() + ")");
  }
  auto now = std::chrono::system_clock::now();
  e.ts = in.ts.empty() ? store::iso8601(now, 0) : in.ts;
  auto ms = parse_time_ms(e.ts, 0);
  if (!ms) throw std::invalid_argument("audit entry " + in.kind + ": bad timestamp '" + e.ts + "'");
  e.unix_ms = *ms;

  Head h = head(db);
  e.seq = h.count + 1;
  e.prev_hash = h.hash;
  e.hash = entry_hash(e);
  db.prepare(
        "INSERT INTO audit_log(seq, ts, unix_ms, kind, actor, subject, room, detail, prev_hash, "
        "hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
      .bind(1, e.seq)
      .bind(2, e.ts)
      .bind(3, e.unix_ms)
      .bind(4, e.kind)
      .bind(5, e.actor)
      .bind(6, e.subject)
      .bind(7, e.room)
      .bind(8, e.detail)
      .bind(9, e.prev_hash)
      .bind(10, e.hash)
      .run();
  db.prepare("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")
      .bind(1, e.seq)
      .bind(2, e.hash)
      .run();
  return e;
}

std::optional<std::int64_t> anchor(store::Database& db, std::string_view gateway_id,
                                   std::string_view ts) {
  Head h = head(db);
  const std::int64_t last = db.query_int("SELECT max(count) FROM audit_anchors", 0);
  if (h.count == last) return std::nullopt;
  record::AuditAnchor rec;
  rec.ts = std::string(ts);
  rec.count = h.count;
  rec.head = h.hash;
  auto out = record::append(db, gateway_id, rec);
  db.prepare("INSERT INTO audit_anchors(count, hash, ts, outbox_seq) VALUES(?1, ?2, ?3, ?4)")
      .bind(1, h.count)
      .bind(2, h.hash)
      .bind(3, ts)
      .bind(4, out.seq)
      .run();
  return out.seq;
}

std::optional<AnchorRef> parse_anchor_ref(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  AnchorRef a;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9' || a.count > (INT64_MAX - 9) / 10) return std::nullopt;
    a.count = a.count * 10 + (c - '0');
  }
  a.hash = std::string(text.substr(colon + 1));
  if (!hash_bytes(a.hash)) return std::nullopt;
  return a;
}

VerifyResult verify(store::Database& db, const std::vector<AnchorRef>& external) {
  VerifyResult r;
  ReadTransaction rt(db);

  struct Expect {
    std::string hash;
    std::string source;
  };
  std::multimap<std::int64_t, Expect> anchors;
  {
    auto st = db.prepare("SELECT count, hash, ts, outbox_seq FROM audit_anchors ORDER BY id");
    while (st.step()) {
      anchors.emplace(st.int64(0), Expect{st.text(1), "the anchor sent at " + st.text(2) +
                                                          " (outbox seq " +
                                                          std::to_string(st.int64(3)) + ")"});
    }
  }
  for (const auto& a : external) {
    anchors.emplace(a.count, Expect{a.hash, "the given anchor " + std::to_string(a.count) + ":" +
                                                short_hash(a.hash)});
  }
  const Head recorded = head(db);

  auto fail = [&](std::int64_t seq, std::string problem, std::string message) {
    r.broken = Break{seq, std::move(problem), std::move(message)};
    return r;
  };
  // Where a prev_hash points when it does not point at the entry before (slow path, taken
  // once, on the first break only).
  auto find_by_hash = [&](const std::string& h) -> std::optional<std::int64_t> {
    auto st = db.prepare("SELECT seq FROM audit_log WHERE hash = ?1 ORDER BY seq LIMIT 1");
    st.bind(1, h);
    if (st.step()) return st.int64(0);
    return std::nullopt;
  };

  std::string prev_hash = genesis_hash;
  std::int64_t prev_seq = 0;
  auto st = db.prepare("SELECT " + std::string(columns) + " FROM audit_log ORDER BY seq");
  while (st.step()) {
    StoredEntry e = read_row(st);
    if (e.seq <= 0) {
      return fail(e.seq, "inserted",
                  "entry " + std::to_string(e.seq) + " was inserted before the start of the "
                  "chain (entries are numbered from 1)");
    }
    if (e.seq != prev_seq + 1) {
      std::string range = e.seq - 1 == prev_seq + 1
                              ? "entry " + std::to_string(prev_seq + 1) + " is"
                              : "entries " + std::to_string(prev_seq + 1) + ".." +
                                    std::to_string(e.seq - 1) + " are";
      return fail(prev_seq + 1, "missing", range + " missing (seq jumps from " +
                                               std::to_string(prev_seq) + " to " +
                                               std::to_string(e.seq) + ")");
    }
    if (e.prev_hash != prev_hash) {
      auto linked = e.prev_hash == genesis_hash ? std::optional<std::int64_t>(0)
                                                : find_by_hash(e.prev_hash);
      if (linked && *linked > e.seq) {
        return fail(e.seq, "reordered",
                    "entry " + std::to_string(e.seq) + " is out of order: it was chained after "
                    "the entry now at seq " + std::to_string(*linked) +
                    ", not after entry " + std::to_string(prev_seq));
      }
      if (linked && *linked < prev_seq) {
        return fail(e.seq, "reordered",
                    "entry " + std::to_string(e.seq) + " was chained after entry " +
                        std::to_string(*linked) + ", so entries " +
                        std::to_string(*linked + 1) + ".." + std::to_string(prev_seq) +
                        " were inserted or moved");
      }
      return fail(prev_seq, "rewritten",
                  "entry " + std::to_string(prev_seq) + " was rewritten: its hash " +
                      short_hash(prev_hash) + " is not the one entry " + std::to_string(e.seq) +
                      " was chained to (" + short_hash(e.prev_hash) + ")");
    }
    const std::string computed = entry_hash(e);
    if (computed != e.hash) {
      return fail(e.seq, "modified",
                  "entry " + std::to_string(e.seq) + " (" + e.kind + ", " + e.ts +
                      ") was modified: its content hashes to " + short_hash(computed) +
                      " but the stored hash is " + short_hash(e.hash));
    }
    auto [lo, hi] = anchors.equal_range(e.seq);
    for (auto it = lo; it != hi; ++it) {
      ++r.anchors_checked;
      if (it->second.hash != e.hash) {
        return fail(e.seq, "anchor_mismatch",
                    "entry " + std::to_string(e.seq) + " hashes to " + short_hash(e.hash) +
                        " but " + it->second.source + " recorded " + short_hash(it->second.hash) +
                        ": the chain up to it was rewritten");
      }
    }
    prev_hash = e.hash;
    prev_seq = e.seq;
    ++r.entries;
  }
  r.head = {prev_seq, prev_hash};
  for (auto it = anchors.upper_bound(prev_seq); it != anchors.end(); ++it) {
    if (it->first == 0) continue;
    return fail(prev_seq + 1, "tail_missing",
                std::to_string(it->first) + " entries were anchored (" + it->second.source +
                    ", head " + short_hash(it->second.hash) + ") but the chain ends at entry " +
                    std::to_string(prev_seq) + ": entries " + std::to_string(prev_seq + 1) +
                    ".." + std::to_string(it->first) + " were deleted");
  }
  if (recorded.count > prev_seq) {
    return fail(prev_seq + 1, "tail_missing",
                "the log's head records " + std::to_string(recorded.count) +
                    " entries but the chain ends at entry " + std::to_string(prev_seq) +
                    ": entries " + std::to_string(prev_seq + 1) + ".." +
                    std::to_string(recorded.count) + " were deleted");
  }
  if (recorded.count < prev_seq) {
    return fail(recorded.count + 1, "inserted",
                "entries " + std::to_string(recorded.count + 1) + ".." + std::to_string(prev_seq) +
                    " lie beyond the log's recorded head (" + std::to_string(recorded.count) +
                    " entries): they were inserted");
  }
  if (recorded.hash != prev_hash) {
    return fail(prev_seq, "rewritten",
                "entry " + std::to_string(prev_seq) + " hashes to " + short_hash(prev_hash) +
                    " but the log's recorded head is " + short_hash(recorded.hash));
  }
  r.ok = true;
  return r;
}

std::vector<StoredEntry> query(store::Database& db, const Filter& f) {
  std::string sql = "SELECT " + std::string(columns) + " FROM audit_log WHERE 1";
  if (f.since_ms) sql += " AND unix_ms >= ?1";
  if (f.until_ms) sql += " AND unix_ms < ?2";
  if (!f.kind.empty()) sql += " AND (kind = ?3 OR substr(kind, 1, length(?4)) = ?4)";
  if (!f.room.empty()) sql += " AND room = ?5";
  sql += f.limit > 0 ? " ORDER BY seq DESC LIMIT ?6" : " ORDER BY seq";
  auto st = db.prepare(sql);
  if (f.since_ms) st.bind(1, *f.since_ms);
  if (f.until_ms) st.bind(2, *f.until_ms);
  if (!f.kind.empty()) {
    std::string family = f.kind.back() == '.' ? f.kind : f.kind + ".";
    st.bind(3, f.kind).bind(4, family);
  }
  if (!f.room.empty()) st.bind(5, f.room);
  if (f.limit > 0) st.bind(6, f.limit);
  std::vector<StoredEntry> out;
  while (st.step()) out.push_back(read_row(st));
  if (f.limit > 0) std::reverse(out.begin(), out.end());
  return out;
}

std::optional<std::int64_t> parse_time_ms(std::string_view s, int default_offset_minutes) {
  std::size_t i = 0;
  auto digits = [&](std::size_t n, int& out) {
    if (i + n > s.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    i += n;
    return true;
  };
  auto lit = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  if (!digits(4, y) || !lit('-') || !digits(2, mo) || !lit('-') || !digits(2, d)) {
    return std::nullopt;
  }
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  if (i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
    ++i;
    if (!digits(2, h) || !lit(':') || !digits(2, mi)) return std::nullopt;
    if (lit(':')) {
      if (!digits(2, sec)) return std::nullopt;
      if (lit('.')) {
        std::size_t start = i;
        int frac = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          if (i - start < 3) frac = frac * 10 + (s[i] - '0');
          ++i;
        }
        if (i == start) return std::nullopt;
        for (std::size_t k = i - start; k < 3; ++k) frac *= 10;
        ms = frac;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  }
  int offset = default_offset_minutes;
  if (i < s.size()) {
    if (s[i] == 'Z' && i + 1 == s.size()) {
      offset = 0;
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      bool neg = s[i] == '-';
      ++i;
      int oh = 0, om = 0;
      if (!digits(2, oh) || !lit(':') || !digits(2, om) || oh > 14 || om > 59) {
        return std::nullopt;
      }
      offset = (oh * 60 + om) * (neg ? -1 : 1);
    }
  }
  if (i != s.size()) return std::nullopt;
  auto local = sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi} + seconds{sec} +
               milliseconds{ms};
  return duration_cast<milliseconds>(local - minutes{offset}).count();
}

}  // namespace estate::audit
