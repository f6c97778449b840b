#include "daemon/access/bridge_lists.hpp"

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <stdexcept>

#include "daemon/parking/time.hpp"
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
                                {"visitor-passes", ListName::visitor_passes}};

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

}  // namespace

std::optional<ListName> list_of_command(std::string_view command) {
  for (const auto& c : commands) {
    if (command == c.name) return c.list;
  }
  return std::nullopt;
}

std::string check_bridge_item(ListName list, const nlohmann::json& item) {
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
      std::int64_t from = 0, to = 0;
      if (!(e = time_field(item, "valid_from", from)).empty()) return e;
      if (!(e = time_field(item, "valid_to", to)).empty()) return e;
      if (to <= from) return "valid_to: must be after valid_from";
      if (auto mu = item.find("max_uses"); mu != item.end()) {
        if (!mu->is_number_integer() || mu->get<std::int64_t>() < 0 ||
            mu->get<std::int64_t>() > 1'000'000) {
          return "max_uses: expected an integer from 0 (unlimited) to 1000000";
        }
      }
      return "";
    }
    case ListName::monthly_passes:
    case ListName::blocklist:
      break;
  }
  return "not a list the cloud bridge carries";
}

ListEntry entry_of_bridge_item(ListName list, const nlohmann::json& item) {
  ListEntry e;
  const std::string key = item.at("key").get<std::string>();
  switch (list) {
    case ListName::cards:
      e.kind = CredentialKind::card;
      e.value = normalize_card(key).value_or(key);
      e.room = text_of(item, "unit");
      break;
    case ListName::plates:
      e.kind = CredentialKind::plate;
      e.value = normalize_plate(key);
      e.room = text_of(item, "unit");
      e.vehicle_class = text_of(item, "vehicle_class");
      break;
    case ListName::visitor_passes: {
      e.pass_id = key;
      e.kind = text_of(item, "kind") == "qr" ? CredentialKind::qr : CredentialKind::plate;
      const std::string value = text_of(item, "value");
      e.value = e.kind == CredentialKind::plate ? normalize_plate(value) : value;
      e.room = text_of(item, "unit");
      std::string err;
      e.valid_from = parking::parse_iso8601(text_of(item, "valid_from"), err)->utc_seconds;
      e.valid_to = parking::parse_iso8601(text_of(item, "valid_to"), err)->utc_seconds;
      if (auto mu = item.find("max_uses"); mu != item.end()) e.max_uses = mu->get<std::int64_t>();
      break;
    }
    case ListName::monthly_passes:
    case ListName::blocklist:
      throw std::invalid_argument("not a list the cloud bridge carries");
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
  cloud::for_each_list_item(db, command, [&](const nlohmann::json& item) {
    if (auto e = check_bridge_item(list, item); !e.empty()) {
      throw std::invalid_argument("stored item " + std::to_string(i) + ": " + e);
    }
    u.entries.push_back(entry_of_bridge_item(list, item));
    ++i;
  });
  return u;
}

void record_applied(store::Database& db, const ListUpdate& u, const std::string& gateway_id,
                    const std::string& ts) {
  nlohmann::ordered_json ev{{"type", "access_list_applied"},
                            {"list", to_string(u.list)},
                            {"version", u.version},
                            {"entries", u.entries.size()}};
  store::append_outbox(db, gateway_id, "events", ts, ev.dump(), false);
}

}  // namespace

cloud::ListSpec bridge_list_spec(const std::string& command, std::weak_ptr<AccessService> service,
                                 std::string gateway_id, int utc_offset_minutes) {
  const auto list = list_of_command(command);
  if (!list) throw std::logic_error("'" + command + "' is not an access list command");
  cloud::ListSpec spec;
  spec.name = command;
  spec.validate_item = [l = *list](const nlohmann::json& item) { return check_bridge_item(l, item); };
  spec.apply = [l = *list, service = std::move(service), gateway_id = std::move(gateway_id),
                utc_offset_minutes](store::Database& db, const std::string& name,
                                    std::int64_t version) -> cloud::ListSpec::Committed {
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

int sync_from_bridge(store::Database& db, std::string_view applied_at) {
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
