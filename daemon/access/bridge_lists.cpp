#include "daemon/access/bridge_lists.hpp"

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <stdexcept>

#include "daemon/parking/time.hpp"
#include "daemon/record/record.hpp"
#include "daemon/store/store.hpp"

namespace estate::access {

namespace {

constexpr std::size_t max_field_bytes = 128;

struct Command {
  const char* name;
  ListName list;
};
constexpr Command commands[] = {{"cards", ListName::cards},
                                {"plates", ListName::plates},
                                {"visitor-passes", ListName::visitor_passes},
                                {"blocklist", ListName::blocklist},
                                {"monthly-passes", ListName::monthly_passes}};

// The lists whose credential is the item's `value` (the key is the entry's id); cards and
// plates are keyed by the credential itself.
bool keyed_by_id(ListName list) {
  return list == ListName::visitor_passes || list == ListName::blocklist ||
         list == ListName::monthly_passes;
}

// The credential kind of an item of `list` (its "kind" for the lists that have one).
CredentialKind kind_of_item(ListName list, const nlohmann::json& item) {
  switch (list) {
    case ListName::cards: return CredentialKind::card;
    case ListName::plates: return CredentialKind::plate;
    default: break;
  }
  const auto k = item.find("kind");
  if (k != item.end() && k->is_string()) {
    if (auto kind = kind_from_string(k->get_ref<const std::string&>())) return *kind;
  }
  return CredentialKind::plate;
}

// "" when the item's kind/value is a credential `list` holds: `kinds` names the allowed kinds;
// a `hashed` value (the stored form) is checked as a keyed hash by the caller.
std::string credential_fields(const nlohmann::json& item, std::initializer_list<const char*> kinds,
                              bool hashed);

// check_bridge_item; `hashed`: the item's credential is already its keyed hash (stored form).
std::string check_item(ListName list, const nlohmann::json& item, bool hashed);

std::string allowed_fields(const nlohmann::json& item, std::initializer_list<const char*> keys) {
  for (auto& [k, v] : item.items()) {
    bool ok = false;
    for (const char* key : keys) ok |= k == key;
    if (!ok) return "unknown field '" + k.substr(0, 64) + "'";
  }
  return "";
}

// "" when `key` is absent and optional, or a string of 1..128 bytes.
std::string text_field(const nlohmann::json& item, const char* key, bool required) {
  auto it = item.find(key);
  if (it == item.end()) return required ? std::string(key) + ": required" : "";
  if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
      it->get_ref<const std::string&>().size() > max_field_bytes) {
    return std::string(key) + ": expected a string of 1 to " + std::to_string(max_field_bytes) +
           " bytes";
  }
  return "";
}

std::string text_of(const nlohmann::json& item, const char* key) {
  auto it = item.find(key);
  return it == item.end() ? std::string() : it->get<std::string>();
}

std::string time_field(const nlohmann::json& item, const char* key, std::int64_t& out) {
  if (auto e = text_field(item, key, true); !e.empty()) return e;
  std::string err;
  auto t = parking::parse_iso8601(item.at(key).get_ref<const std::string&>(), err);
  if (!t) return std::string(key) + ": " + err;
  out = t->utc_seconds;
  return "";
}

std::string credential_fields(const nlohmann::json& item, std::initializer_list<const char*> kinds,
                              bool hashed) {
  if (auto e = text_field(item, "kind", true); !e.empty()) return e;
  const std::string& kind = item.at("kind").get_ref<const std::string&>();
  bool known = false;
  std::string expected;
  for (const char* k : kinds) {
    known |= kind == k;
    expected += std::string(expected.empty() ? "" : " or ") + k;
  }
  if (!known) return "kind: expected " + expected;
  if (auto e = text_field(item, "value", true); !e.empty()) return e;
  if (hashed) return "";
  const std::string& value = item.at("value").get_ref<const std::string&>();
  if (kind == "card" && !normalize_card(value)) return "value: a card number is 1 to 20 hex digits";
  if (kind == "plate" && normalize_plate(value).empty()) return "value: empty plate";
  return "";
}

std::string validity_fields(const nlohmann::json& item) {
  std::int64_t from = 0, to = 0;
  if (auto e = time_field(item, "valid_from", from); !e.empty()) return e;
  if (auto e = time_field(item, "valid_to", to); !e.empty()) return e;
  if (to <= from) return "valid_to: must be after valid_from";
  return "";
}

}  // namespace

std::optional<ListName> list_of_command(std::string_view command) {
  for (const auto& c : commands) {
    if (command == c.name) return c.list;
  }
  return std::nullopt;
}

std::string check_bridge_item(ListName list, const nlohmann::json& item) {
  return check_item(list, item, false);
}

namespace {

std::string check_item(ListName list, const nlohmann::json& item, bool hashed) {
  if (!item.is_object() || !item.contains("key") || !item.at("key").is_string()) {
    return "expected an object with a string key";
  }
  const std::string& key = item.at("key").get_ref<const std::string&>();
  std::string e;
  switch (list) {
    case ListName::cards:
      if (!(e = allowed_fields(item, {"key", "unit"})).empty()) return e;
      if (!normalize_card(key)) return "key: a card number is 1 to 20 hex digits";
      return text_field(item, "unit", true);
    case ListName::plates:
      if (!(e = allowed_fields(item, {"key", "unit", "vehicle_class"})).empty()) return e;
      if (normalize_plate(key).empty()) return "key: empty plate";
      if (!(e = text_field(item, "unit", true)).empty()) return e;
      return text_field(item, "vehicle_class", false);
    case ListName::visitor_passes: {
      if (!(e = allowed_fields(item, {"key", "kind", "value", "unit", "valid_from", "valid_to",
                                      "max_uses"}))
               .empty()) {
        return e;
      }
      if (!(e = text_field(item, "kind", true)).empty()) return e;
      const std::string kind = item.at("kind").get<std::string>();
      if (kind != "plate" && kind != "qr") return "kind: expected plate or qr";
      if (!(e = text_field(item, "value", true)).empty()) return e;
      if (kind == "plate" && normalize_plate(item.at("value").get<std::string>()).empty()) {
        return "value: empty plate";
      }
      if (!(e = text_field(item, "unit", false)).empty()) return e;
      if (!(e = validity_fields(item)).empty()) return e;
      if (auto mu = item.find("max_uses"); mu != item.end()) {
        if (!mu->is_number_integer() || mu->get<std::int64_t>() < 0 ||
            mu->get<std::int64_t>() > 1'000'000) {
          return "max_uses: expected an integer from 0 (unlimited) to 1000000";
        }
      }
      return "";
    }
    case ListName::monthly_passes:
      if (!(e = allowed_fields(item, {"key", "kind", "value", "unit", "vehicle_class",
                                      "valid_from", "valid_to"}))
               .empty()) {
        return e;
      }
      if (!(e = credential_fields(item, {"card", "plate"}, hashed)).empty()) return e;
      if (!(e = text_field(item, "unit", false)).empty()) return e;
      if (!(e = text_field(item, "vehicle_class", false)).empty()) return e;
      return validity_fields(item);
    case ListName::blocklist:
      if (!(e = allowed_fields(item, {"key", "kind", "value", "reason"})).empty()) return e;
      if (!(e = credential_fields(item, {"card", "plate", "qr"}, hashed)).empty()) return e;
      return text_field(item, "reason", false);
  }
  return "not a list the cloud bridge carries";
}

}  // namespace

nlohmann::json stored_bridge_item(ListName list, const nlohmann::json& item,
                                  const CredentialHasher& hasher) {
  // The clear entry as parsed, then its stored form.
  ListEntry e = entry_of_bridge_item(list, item);
  hasher.protect(e);
  nlohmann::json out = item;
  if (keyed_by_id(list)) {
    out["value"] = e.value;
  } else {
    out["key"] = e.value;
  }
  out["shown"] = e.shown;
  return out;
}

std::string check_stored_bridge_item(ListName list, const nlohmann::json& item) {
  if (!item.is_object() || !item.contains("key") || !item.at("key").is_string()) {
    return "expected an object with a string key";
  }
  if (auto e = text_field(item, "shown", true); !e.empty()) return e;
  const std::string& key = item.at("key").get_ref<const std::string&>();
  std::string e;
  switch (list) {
    case ListName::cards:
      if (!(e = allowed_fields(item, {"key", "shown", "unit"})).empty()) return e;
      if (!is_credential_hash(key)) return "key: not a keyed hash";
      return text_field(item, "unit", true);
    case ListName::plates:
      if (!(e = allowed_fields(item, {"key", "shown", "unit", "vehicle_class"})).empty()) return e;
      if (!is_credential_hash(key)) return "key: not a keyed hash";
      if (!(e = text_field(item, "unit", true)).empty()) return e;
      return text_field(item, "vehicle_class", false);
    case ListName::visitor_passes:
    case ListName::monthly_passes:
    case ListName::blocklist: {
      auto v = item.find("value");
      if (v == item.end() || !v->is_string() || !is_credential_hash(v->get_ref<const std::string&>())) {
        return "value: not a keyed hash";
      }
      // The other fields as received.
      nlohmann::json rest = item;
      rest.erase("shown");
      return check_item(list, rest, list != ListName::visitor_passes);
    }
  }
  return "not a list the cloud bridge carries";
}

ListEntry entry_of_bridge_item(ListName list, const nlohmann::json& item) {
  ListEntry e;
  const std::string key = item.at("key").get<std::string>();
  // The stored form carries "shown"; its credential is already the hash.
  const bool stored = item.contains("shown");
  if (stored) e.shown = text_of(item, "shown");
  switch (list) {
    case ListName::cards:
      e.kind = CredentialKind::card;
      e.value = stored ? key : normalize_card(key).value_or(key);
      e.room = text_of(item, "unit");
      break;
    case ListName::plates:
      e.kind = CredentialKind::plate;
      e.value = stored ? key : normalize_plate(key);
      e.room = text_of(item, "unit");
      e.vehicle_class = text_of(item, "vehicle_class");
      break;
    case ListName::visitor_passes: {
      e.pass_id = key;
      e.kind = text_of(item, "kind") == "qr" ? CredentialKind::qr : CredentialKind::plate;
      const std::string value = text_of(item, "value");
      e.value = stored || e.kind == CredentialKind::qr ? value : normalize_plate(value);
      e.room = text_of(item, "unit");
      std::string err;
      e.valid_from = parking::parse_iso8601(text_of(item, "valid_from"), err)->utc_seconds;
      e.valid_to = parking::parse_iso8601(text_of(item, "valid_to"), err)->utc_seconds;
      if (auto mu = item.find("max_uses"); mu != item.end()) e.max_uses = mu->get<std::int64_t>();
      break;
    }
    case ListName::monthly_passes:
    case ListName::blocklist: {
      // The key is the entry's id on the platform; the gates match by the credential alone.
      e.kind = kind_of_item(list, item);
      const std::string value = text_of(item, "value");
      if (stored) {
        e.value = value;
      } else if (e.kind == CredentialKind::card) {
        e.value = normalize_card(value).value_or(value);
      } else if (e.kind == CredentialKind::plate) {
        e.value = normalize_plate(value);
      } else {
        e.value = value;
      }
      if (list == ListName::blocklist) {
        e.note = text_of(item, "reason");
      } else {
        e.room = text_of(item, "unit");
        e.vehicle_class = text_of(item, "vehicle_class");
        std::string err;
        e.valid_from = parking::parse_iso8601(text_of(item, "valid_from"), err)->utc_seconds;
        e.valid_to = parking::parse_iso8601(text_of(item, "valid_to"), err)->utc_seconds;
      }
      break;
    }
  }
  return e;
}

namespace {

// The version the bridge applied in `db` as an access ListUpdate; throws std::invalid_argument
// when a stored item does not pass the checks.
ListUpdate update_from_bridge(store::Database& db, const std::string& command, ListName list,
                              std::int64_t version) {
  ListUpdate u;
  u.list = list;
  u.version = version;
  std::size_t i = 0;
  bridge::for_each_list_item(db, command, [&](const nlohmann::json& item) {
    if (auto e = check_stored_bridge_item(list, item); !e.empty()) {
      throw std::invalid_argument("stored item " + std::to_string(i) + ": " + e);
    }
    u.entries.push_back(entry_of_bridge_item(list, item));
    ++i;
  });
  return u;
}

void record_applied(store::Database& db, const ListUpdate& u, const std::string& gateway_id,
                    const std::string& ts) {
  record::ListApplied ev;
  ev.ts = ts;
  ev.list = to_string(u.list);
  ev.version = u.version;
  ev.entries = static_cast<std::int64_t>(u.entries.size());
  record::append(db, gateway_id, ev);
}

}  // namespace

bridge::ListSpec bridge_list_spec(const std::string& command, std::weak_ptr<AccessService> service,
                                 std::string gateway_id, int utc_offset_minutes) {
  const auto list = list_of_command(command);
  if (!list) throw std::logic_error("'" + command + "' is not an access list command");
  auto s = service.lock();
  if (!s) throw std::logic_error("the access service of list '" + command + "' is gone");
  bridge::ListSpec spec = bridge_store_spec(command, s->hasher());
  spec.validate_item = [l = *list](const nlohmann::json& item) { return check_bridge_item(l, item); };
  spec.apply = [l = *list, service = std::move(service), gateway_id = std::move(gateway_id),
                utc_offset_minutes](store::Database& db, const std::string& name,
                                    std::int64_t version) -> bridge::ListSpec::Committed {
    ListUpdate u = update_from_bridge(db, name, l, version);
    const std::string ts = store::iso8601_now(utc_offset_minutes);
    write_list(db, u, ts);  // throws when the access tables hold this version or a newer one
    record_applied(db, u, gateway_id, ts);
    // Built here, off the gate's path, so the swap after the commit is instant.
    auto block = std::make_shared<const ListBlock>(u);
    return [service, block] {
      if (auto s = service.lock()) {
        if (s->install(block)) {
          spdlog::info("access: list {} version {} in use ({} entries)", to_string(block->list()),
                       block->version(), block->size());
        }
      }
    };
  };
  return spec;
}

bool upgrade_legacy_list(ListName list, nlohmann::json& body) {
  if (list != ListName::blocklist && list != ListName::monthly_passes) return false;
  if (!body.is_object() || !body.contains("entries") || body.contains("items")) return false;
  nlohmann::json entries = std::move(body["entries"]);
  body.erase("entries");
  if (!entries.is_array()) {
    body["items"] = std::move(entries);  // refused as "entries: expected an array"
    return true;
  }
  nlohmann::json items = nlohmann::json::array();
  std::size_t i = 0;
  for (auto& entry : entries) {
    if (entry.is_object()) {
      // The old shape let optional texts be empty; the envelope's are absent instead.
      for (const char* k : {"room", "vehicle_class", "reason"}) {
        if (auto it = entry.find(k);
            it != entry.end() && it->is_string() && it->get_ref<const std::string&>().empty()) {
          entry.erase(it);
        }
      }
      if (list == ListName::monthly_passes && entry.contains("room") && !entry.contains("unit")) {
        entry["unit"] = std::move(entry["room"]);
        entry.erase("room");
      }
      // No ids in the old shape: a key per position, unique in the version. Padded so the
      // entries keep their order (a credential given twice keeps its last entry, as before).
      if (!entry.contains("key")) {
        std::string n = std::to_string(i);
        entry["key"] = "entry-" + std::string(n.size() < 7 ? 7 - n.size() : 0, '0') + n;
      }
    }
    items.push_back(std::move(entry));
    ++i;
  }
  body["items"] = std::move(items);
  return true;
}

bridge::ListSpec bridge_store_spec(const std::string& command,
                                  std::shared_ptr<const CredentialHasher> hasher) {
  const auto list = list_of_command(command);
  if (!list) throw std::logic_error("'" + command + "' is not an access list command");
  bridge::ListSpec spec;
  spec.name = command;
  if (*list == ListName::blocklist || *list == ListName::monthly_passes) {
    spec.upgrade_legacy = [l = *list](nlohmann::json& body) { return upgrade_legacy_list(l, body); };
  }
  // Without gates the bridge checks the envelope only (docs/mqtt-api.md); an item the gates
  // would refuse still loses its credential, and without "shown" it keeps the list from being
  // taken over (check_stored_bridge_item), as it did in clear.
  spec.transform_item = [l = *list, hasher = std::move(hasher)](const nlohmann::json& item) {
    if (check_bridge_item(l, item).empty()) return stored_bridge_item(l, item, *hasher);
    nlohmann::json out = item;
    out.erase("shown");  // only the stored form of a usable item has it
    const char* field = keyed_by_id(l) ? "value" : "key";
    auto v = out.find(field);
    if (v != out.end() && v->is_string()) {
      *v = hasher->hash(kind_of_item(l, item), v->get<std::string>());
    } else if (v != out.end()) {
      *v = "";
    }
    return out;
  };
  return spec;
}

std::size_t rehash_bridge_lists(store::Database& db, const CredentialHasher& hasher) {
  std::size_t rewritten = 0;
  // Clear when it has no "shown" and is an item as received (anything else is left alone).
  auto rehash = [&](ListName list, nlohmann::json& item) {
    if (!item.is_object() || item.contains("shown") || !check_bridge_item(list, item).empty()) {
      return false;
    }
    item = stored_bridge_item(list, item, hasher);
    ++rewritten;
    return true;
  };
  for (const auto& c : commands) {
    std::vector<std::string> old_keys;
    std::vector<nlohmann::json> items;
    auto st = db.prepare("SELECT key, item FROM bridge_list_items WHERE name = ?1");
    st.bind(1, c.name);
    while (st.step()) {
      auto item = nlohmann::json::parse(st.text(1), nullptr, false);
      if (rehash(c.list, item)) {
        old_keys.push_back(st.text(0));
        items.push_back(std::move(item));
      }
    }
    st.reset();
    auto del = db.prepare("DELETE FROM bridge_list_items WHERE name = ?1 AND key = ?2");
    for (const auto& k : old_keys) del.bind(1, c.name).bind(2, k).run();
    auto ins = db.prepare(
        "INSERT OR REPLACE INTO bridge_list_items(name, key, item) VALUES(?1, ?2, ?3)");
    for (const auto& item : items) {
      ins.bind(1, c.name).bind(2, item.at("key").get<std::string>()).bind(3, item.dump()).run();
    }
    struct Chunk {
      std::int64_t version, chunk;
      std::string items;
    };
    std::vector<Chunk> chunks;
    auto ch = db.prepare("SELECT version, chunk, items FROM bridge_list_chunks WHERE name = ?1");
    ch.bind(1, c.name);
    while (ch.step()) {
      auto array = nlohmann::json::parse(ch.text(2), nullptr, false);
      if (!array.is_array()) continue;
      bool changed = false;
      for (auto& item : array) changed |= rehash(c.list, item);
      if (changed) chunks.push_back({ch.int64(0), ch.int64(1), array.dump()});
    }
    ch.reset();
    auto upd = db.prepare(
        "UPDATE bridge_list_chunks SET items = ?4 WHERE name = ?1 AND version = ?2 AND chunk = ?3");
    for (const auto& k : chunks) {
      upd.bind(1, c.name).bind(2, k.version).bind(3, k.chunk).bind(4, k.items).run();
    }
  }
  return rewritten;
}

int sync_from_bridge(store::Database& db, std::string_view applied_at,
                     const CredentialHasher& hasher) {
  if (auto n = rehash_bridge_lists(db, hasher); n > 0) {
    spdlog::info("access: {} cloud bridge list items of an older store now kept as keyed hashes",
                 n);
  }
  int copied = 0;
  for (const auto& c : commands) {
    auto st = db.prepare("SELECT version FROM bridge_lists WHERE name = ?1");
    st.bind(1, c.name);
    if (!st.step()) continue;
    const std::int64_t version = st.int64(0);
    st.reset();
    if (version <= applied_version(db, c.list)) continue;
    try {
      write_list(db, update_from_bridge(db, c.name, c.list, version), applied_at);
      ++copied;
      spdlog::info("access: list {} version {} taken from the cloud bridge's store", c.name,
                   version);
    } catch (const std::invalid_argument& e) {
      spdlog::error("access: list {} version {} from the cloud bridge's store not used: {}",
                    c.name, version, e.what());
    }
  }
  return copied;
}

}  // namespace estate::access
