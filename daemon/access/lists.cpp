#include "daemon/access/lists.hpp"

#include <stdexcept>

#include "daemon/access/credential_hash.hpp"

#include "daemon/parking/time.hpp"

namespace estate::access {

std::string_view to_string(ListName l) {
  switch (l) {
    case ListName::cards: return "cards";
    case ListName::plates: return "plates";
    case ListName::monthly_passes: return "monthly_passes";
    case ListName::visitor_passes: return "visitor_passes";
    case ListName::blocklist: return "blocklist";
  }
  return "cards";
}

std::optional<ListName> list_from_string(std::string_view s) {
  for (auto l : {ListName::cards, ListName::plates, ListName::monthly_passes,
                 ListName::visitor_passes, ListName::blocklist}) {
    if (to_string(l) == s) return l;
  }
  return std::nullopt;
}

std::string_view to_string(CredentialKind k) {
  switch (k) {
    case CredentialKind::card: return "card";
    case CredentialKind::plate: return "plate";
    case CredentialKind::qr: return "qr";
  }
  return "card";
}

std::optional<CredentialKind> kind_from_string(std::string_view s) {
  if (s == "card") return CredentialKind::card;
  if (s == "plate") return CredentialKind::plate;
  if (s == "qr") return CredentialKind::qr;
  return std::nullopt;
}

std::optional<std::string> normalize_card(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c == ':' || c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return std::nullopt;
    out.push_back(c);
  }
  if (out.empty() || out.size() > 20) return std::nullopt;
  return out;
}

std::string normalize_plate(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == ' ' || c == '-') continue;
    // U+00B7 MIDDLE DOT (C2 B7 in UTF-8), often printed between province and number.
    if (static_cast<unsigned char>(c) == 0xC2 && i + 1 < raw.size() &&
        static_cast<unsigned char>(raw[i + 1]) == 0xB7) {
      ++i;
      continue;
    }
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    out.push_back(c);
  }
  return out;
}

std::string mask_card(std::string_view card) {
  if (card.size() <= 4) return std::string(card.size(), '*');
  return std::string(card.size() - 4, '*') + std::string(card.substr(card.size() - 4));
}

namespace {

std::optional<std::string> text(const nlohmann::json& e, const char* key, bool required,
                                std::string& error, const std::string& where) {
  auto it = e.find(key);
  if (it == e.end() || it->is_null()) {
    if (required) error = where + "." + key + ": required";
    return required ? std::nullopt : std::optional<std::string>("");
  }
  if (!it->is_string()) {
    error = where + "." + key + ": expected a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

bool time_field(const nlohmann::json& e, const char* key, bool required, std::int64_t& out,
                std::string& error, const std::string& where) {
  auto s = text(e, key, required, error, where);
  if (!s) return false;
  if (s->empty()) return true;
  std::string err;
  auto t = parking::parse_iso8601(*s, err);
  if (!t) {
    error = where + "." + key + ": " + err;
    return false;
  }
  out = t->utc_seconds;
  return true;
}

}  // namespace

std::optional<ListUpdate> parse_list_update(const nlohmann::json& doc, std::string& error) {
  if (!doc.is_object()) {
    error = "a list update is a JSON object";
    return std::nullopt;
  }
  ListUpdate u;
  auto name = doc.find("list");
  if (name == doc.end() || !name->is_string() || !list_from_string(name->get<std::string>())) {
    error = "list: expected one of cards, plates, monthly_passes, visitor_passes, blocklist";
    return std::nullopt;
  }
  u.list = *list_from_string(name->get<std::string>());
  auto ver = doc.find("version");
  if (ver == doc.end() || !ver->is_number_integer() || ver->get<std::int64_t>() < 1) {
    error = "version: expected a whole number >= 1";
    return std::nullopt;
  }
  u.version = ver->get<std::int64_t>();
  auto entries = doc.find("entries");
  if (entries == doc.end() || !entries->is_array()) {
    error = "entries: expected a list";
    return std::nullopt;
  }
  u.entries.reserve(entries->size());
  std::size_t i = 0;
  for (const auto& e : *entries) {
    const std::string where = "entries[" + std::to_string(i++) + "]";
    if (!e.is_object()) {
      error = where + ": expected an object";
      return std::nullopt;
    }
    ListEntry x;
    std::optional<std::string> value;
    switch (u.list) {
      case ListName::cards:
        x.kind = CredentialKind::card;
        value = text(e, "card", true, error, where);
        break;
      case ListName::plates:
        x.kind = CredentialKind::plate;
        value = text(e, "plate", true, error, where);
        break;
      case ListName::monthly_passes:
      case ListName::visitor_passes:
      case ListName::blocklist: {
        auto k = text(e, "kind", true, error, where);
        if (!k) return std::nullopt;
        auto kind = kind_from_string(*k);
        if (!kind || (u.list == ListName::monthly_passes && *kind == CredentialKind::qr) ||
            (u.list == ListName::visitor_passes && *kind == CredentialKind::card)) {
          error = where + ".kind: '" + *k + "' is not a credential this list holds";
          return std::nullopt;
        }
        x.kind = *kind;
        value = text(e, "value", true, error, where);
        break;
      }
    }
    if (!value) return std::nullopt;
    if (x.kind == CredentialKind::card) {
      auto c = normalize_card(*value);
      if (!c) {
        error = where + ": a card number is 1-20 hex digits";
        return std::nullopt;
      }
      x.value = *c;
    } else if (x.kind == CredentialKind::plate) {
      x.value = normalize_plate(*value);
    } else {
      x.value = *value;
    }
    if (x.value.empty()) {
      error = where + ": empty credential";
      return std::nullopt;
    }
    auto room = text(e, "room", u.list == ListName::cards || u.list == ListName::plates, error,
                     where);
    if (!room) return std::nullopt;
    x.room = *room;
    if (u.list == ListName::plates || u.list == ListName::monthly_passes) {
      auto vc = text(e, "vehicle_class", false, error, where);
      if (!vc) return std::nullopt;
      x.vehicle_class = *vc;
    }
    if (u.list == ListName::monthly_passes || u.list == ListName::visitor_passes) {
      if (!time_field(e, "valid_from", true, x.valid_from, error, where) ||
          !time_field(e, "valid_to", true, x.valid_to, error, where)) {
        return std::nullopt;
      }
      if (x.valid_to <= x.valid_from) {
        error = where + ".valid_to: must be after valid_from";
        return std::nullopt;
      }
    }
    if (u.list == ListName::visitor_passes) {
      auto id = text(e, "id", true, error, where);
      if (!id) return std::nullopt;
      x.pass_id = *id;
      auto mu = e.find("max_uses");
      if (mu != e.end()) {
        if (!mu->is_number_integer() || mu->get<std::int64_t>() < 0) {
          error = where + ".max_uses: expected a whole number >= 0";
          return std::nullopt;
        }
        x.max_uses = mu->get<std::int64_t>();
      }
    }
    if (u.list == ListName::blocklist) {
      auto r = text(e, "reason", false, error, where);
      if (!r) return std::nullopt;
      x.note = *r;
    }
    u.entries.push_back(std::move(x));
  }
  return u;
}

std::int64_t applied_version(store::Database& db, ListName list) {
  auto st = db.prepare("SELECT version FROM access_lists WHERE list = ?1");
  st.bind(1, to_string(list));
  return st.step() ? st.int64(0) : 0;
}

void write_list(store::Database& db, const ListUpdate& u, std::string_view applied_at) {
  const std::int64_t current = applied_version(db, u.list);
  if (u.version <= current) {
    throw std::invalid_argument("list " + std::string(to_string(u.list)) + " version " +
                                std::to_string(u.version) + " is not newer than the applied " +
                                "version " + std::to_string(current));
  }
  for (const auto& e : u.entries) {
    if (!is_credential_hash(e.value) || e.shown.empty()) {
      throw std::invalid_argument("list " + std::string(to_string(u.list)) +
                                  ": an entry is not hashed (nothing was written)");
    }
  }
  auto del = db.prepare("DELETE FROM access_entries WHERE list = ?1");
  del.bind(1, to_string(u.list));
  del.run();
  // INSERT OR REPLACE: a list that names one credential twice keeps its last entry, as the
  // in-memory index does.
  auto ins = db.prepare(
      "INSERT OR REPLACE INTO access_entries(list, kind, value, room, vehicle_class, pass_id, "
      "valid_from, valid_to, max_uses, note, shown) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  for (const auto& e : u.entries) {
    ins.bind(1, to_string(u.list)).bind(2, to_string(e.kind)).bind(3, e.value).bind(4, e.room);
    ins.bind(5, e.vehicle_class).bind(6, e.pass_id);
    if (e.valid_from == no_time) ins.bind_null(7); else ins.bind(7, e.valid_from);
    if (e.valid_to == no_time) ins.bind_null(8); else ins.bind(8, e.valid_to);
    ins.bind(9, e.max_uses).bind(10, e.note).bind(11, e.shown);
    ins.run();
  }
  auto ver = db.prepare(
      "INSERT INTO access_lists(list, version, applied_at, entries) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(list) DO UPDATE SET version = excluded.version, "
      "applied_at = excluded.applied_at, entries = excluded.entries");
  ver.bind(1, to_string(u.list)).bind(2, u.version).bind(3, applied_at);
  ver.bind(4, static_cast<std::int64_t>(u.entries.size()));
  ver.run();
}

ListUpdate read_list(store::Database& db, ListName list) {
  ListUpdate u;
  u.list = list;
  u.version = applied_version(db, list);
  auto st = db.prepare(
      "SELECT kind, value, room, vehicle_class, pass_id, valid_from, valid_to, max_uses, note, "
      "shown FROM access_entries WHERE list = ?1");
  st.bind(1, to_string(list));
  while (st.step()) {
    ListEntry e;
    e.kind = kind_from_string(st.text(0)).value_or(CredentialKind::card);
    e.value = st.text(1);
    e.room = st.text(2);
    e.vehicle_class = st.text(3);
    e.pass_id = st.text(4);
    e.valid_from = st.is_null(5) ? no_time : st.int64(5);
    e.valid_to = st.is_null(6) ? no_time : st.int64(6);
    e.max_uses = st.int64(7);
    e.note = st.text(8);
    if (!st.is_null(9)) e.shown = st.text(9);
    u.entries.push_back(std::move(e));
  }
  return u;
}

}  // namespace estate::access
