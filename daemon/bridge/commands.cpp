#include "daemon/bridge/commands.hpp"

#include <spdlog/spdlog.h>

#include "daemon/audit/audit.hpp"
#include "daemon/runtime/bounded_json.hpp"

#include <memory>
#include <stdexcept>
#include <unordered_set>

namespace estate::bridge {

namespace {

cloud_bridge::CommandAck refusal(const std::string& name, std::optional<std::string> id,
                           std::string error) {
  cloud_bridge::CommandAck a;
  a.command = name;
  a.id = std::move(id);
  a.ok = false;
  a.error = std::move(error);
  return a;
}

bool printable_id(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

// A refusal decided inside the writer job: what it changed is rolled back, the answer recorded.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr std::int64_t max_version = std::int64_t{1} << 53;  // exact in every JSON consumer
constexpr std::int64_t max_chunks = 100000;
constexpr std::size_t max_key_bytes = 128;

std::optional<std::int64_t> integer_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

}  // namespace

ParsedCommand parse_command(const std::string& name, const std::string& payload,
                            const CommandPolicy& policy) {
  ParsedCommand out;
  if (auto at = runtime::json_too_deep(payload)) {
    out.refusal = refusal(name, std::nullopt,
                          "nesting: deeper than " + std::to_string(runtime::max_json_depth) +
                              " levels at byte " + std::to_string(*at));
    return out;
  }
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(payload);
  } catch (const nlohmann::json::parse_error& e) {
    out.refusal = refusal(name, std::nullopt,
                          "not valid JSON: syntax error at byte " + std::to_string(e.byte));
    return out;
  }
  if (!body.is_object()) {
    out.refusal = refusal(name, std::nullopt, "expected a JSON object");
    return out;
  }
  auto id = body.find("id");
  if (id == body.end() || !id->is_string() || !printable_id(id->get<std::string>())) {
    out.refusal = refusal(name, std::nullopt,
                          "id: expected a string of 1 to 128 printable ASCII characters");
    return out;
  }
  const std::string command_id = id->get<std::string>();
  auto v = integer_field(body, "v");
  if (!v || *v != 1) {
    out.refusal = refusal(name, command_id, "v: expected 1 (message format version)");
    return out;
  }
  std::string error;
  auto times = command_times(body, error);
  if (!times) {
    out.refusal = refusal(name, command_id, error);
    return out;
  }
  if (policy.needs_signature(name)) {
    if (auto why = check_signature(name, body, *policy.keys); !why.empty()) {
      out.refusal = refusal(name, command_id, why);
      return out;
    }
  }
  for (const char* k : {"issued_at", "expires", "sig"}) body.erase(k);
  out.command = Command{name, command_id, std::move(body)};
  out.command->times = times;
  return out;
}

StoredAnswer find_answer(store::Database& db, const std::string& id) {
  StoredAnswer a;
  auto st = db.prepare("SELECT name, ok, error, result, state FROM bridge_commands WHERE id = ?1");
  st.bind(1, id);
  if (!st.step()) return a;
  a.name = st.text(0);
  a.state = st.text(4) == "running" ? StoredAnswer::State::running : StoredAnswer::State::done;
  a.ack.id = id;
  a.ack.command = a.name;
  a.ack.ok = st.int64(1) != 0;
  a.ack.error = st.text(2);
  a.ack.result = nlohmann::ordered_json::parse(st.text(3), nullptr, false);
  if (a.ack.result.is_discarded()) a.ack.result = nullptr;
  return a;
}

void mark_running(store::Database& db, const Command& cmd, const std::string& received_at,
                  std::int64_t keep_until) {
  db.prepare(
        "INSERT INTO bridge_commands(id, name, ok, error, result, received_at, state, keep_until) "
        "VALUES(?1, ?2, 0, '', 'null', ?3, 'running', ?4) ON CONFLICT(id) DO UPDATE SET "
        "received_at = excluded.received_at, state = 'running', keep_until = excluded.keep_until")
      .bind(1, cmd.id)
      .bind(2, cmd.name)
      .bind(3, received_at)
      .bind(4, keep_until)
      .run();
}

void store_answer(store::Database& db, const std::string& name, const cloud_bridge::CommandAck& ack,
                  const std::string& received_at, std::int64_t keep_until) {
  db.prepare(
        "INSERT INTO bridge_commands(id, name, ok, error, result, received_at, state, keep_until) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'done', ?7) ON CONFLICT(id) DO UPDATE SET "
        "name = excluded.name, ok = excluded.ok, error = excluded.error, "
        "result = excluded.result, state = 'done', "
        "keep_until = max(keep_until, excluded.keep_until)")
      .bind(1, ack.id.value_or(""))
      .bind(2, name)
      .bind(3, ack.ok ? 1 : 0)
      .bind(4, ack.error)
      .bind(5, ack.result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
      .bind(6, received_at)
      .bind(7, keep_until)
      .run();
}

void prune_answers(store::Database& db, std::int64_t now) {
  db.prepare(
        "DELETE FROM bridge_commands WHERE rowid <= (SELECT max(rowid) FROM bridge_commands) - ?1 "
        "AND (keep_until < ?2 OR rowid <= (SELECT max(rowid) FROM bridge_commands) - ?3)")
      .bind(1, remembered_answers)
      .bind(2, now)
      .bind(3, max_answers)
      .run();
}

void CommandRegistry::add(const std::string& name, CommandHandler handler) {
  if (!handlers_.emplace(name, std::move(handler)).second) {
    throw std::logic_error("downlink command '" + name + "' registered twice");
  }
}

void CommandRegistry::replace(const std::string& name, CommandHandler handler) {
  auto it = handlers_.find(name);
  if (it == handlers_.end()) {
    throw std::logic_error("downlink command '" + name + "' has no handler to replace");
  }
  it->second = std::move(handler);
}

std::vector<std::string> CommandRegistry::names() const {
  std::vector<std::string> out;
  for (auto& [k, v] : handlers_) out.push_back(k);
  return out;
}

void CommandRegistry::dispatch(Command cmd, CommandReply reply) const {
  auto it = handlers_.find(cmd.name);
  if (it == handlers_.end()) {
    std::string known;
    for (auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    reply(refusal(cmd.name, cmd.id,
                  "unknown command '" + cmd.name + "'; this gateway handles: " + known));
    return;
  }
  it->second(std::move(cmd), std::move(reply));
}

std::vector<ListSpec> default_list_specs() {
  std::vector<ListSpec> out;
  for (const char* n :
       {"cards", "plates", "visitor-passes", "blocklist", "monthly-passes", "arrears", "tariffs"}) {
    ListSpec s;
    s.name = n;
    out.push_back(std::move(s));
  }
  return out;
}

std::string check_list_message(const ListSpec& spec, const nlohmann::json& body) {
  for (auto& [k, v] : body.items()) {
    if (k != "v" && k != "id" && k != "version" && k != "items" && k != "chunk" && k != "chunks") {
      return "unknown field '" + k.substr(0, 64) + "'";
    }
  }
  auto version = integer_field(body, "version");
  if (!version || *version < 1 || *version > max_version) {
    return "version: expected an integer from 1 to 2^53";
  }
  bool has_chunk = body.contains("chunk"), has_chunks = body.contains("chunks");
  if (has_chunk != has_chunks) return "chunk and chunks: give both or neither";
  if (has_chunks) {
    auto chunks = integer_field(body, "chunks");
    if (!chunks || *chunks < 1 || *chunks > max_chunks) {
      return "chunks: expected an integer from 1 to " + std::to_string(max_chunks);
    }
    auto chunk = integer_field(body, "chunk");
    if (!chunk || *chunk < 0 || *chunk >= *chunks) {
      return "chunk: expected an integer from 0 to chunks-1 (" + std::to_string(*chunks - 1) + ")";
    }
  }
  auto items = body.find("items");
  if (items == body.end() || !items->is_array()) return "items: expected an array";
  if (items->size() > spec.max_items) {
    return "items: " + std::to_string(items->size()) + " items exceed the limit of " +
           std::to_string(spec.max_items) + " for " + spec.name;
  }
  std::unordered_set<std::string> keys;
  std::size_t i = 0;
  for (const auto& item : *items) {
    std::string where = "items[" + std::to_string(i++) + "]";
    if (!item.is_object()) return where + ": expected an object";
    auto key = item.find("key");
    if (key == item.end() || !key->is_string() || key->get_ref<const std::string&>().empty() ||
        key->get_ref<const std::string&>().size() > max_key_bytes) {
      return where + ".key: expected a string of 1 to " + std::to_string(max_key_bytes) + " bytes";
    }
    // Keys may be card numbers: errors name the position, never the key.
    if (!keys.insert(key->get<std::string>()).second) return where + ": duplicate key";
    if (spec.validate_item) {
      auto e = spec.validate_item(item);
      if (!e.empty()) return where + ": " + e;
    }
  }
  return "";
}

std::string prepare_list_message(const ListSpec& spec, nlohmann::json& body, bool* legacy) {
  const bool upgraded = spec.upgrade_legacy && spec.upgrade_legacy(body);
  if (legacy) *legacy = upgraded;
  auto error = check_list_message(spec, body);
  // The sender's own word for the array its refusal is about.
  if (upgraded && error.rfind("items", 0) == 0) error.replace(0, 5, "entries");
  return error;
}

void for_each_list_item(store::Database& db, const std::string& list,
                        const std::function<void(const nlohmann::json& item)>& f) {
  auto st = db.prepare("SELECT item FROM bridge_list_items WHERE name = ?1 ORDER BY key");
  st.bind(1, list);
  while (st.step()) f(nlohmann::json::parse(st.text(0)));
}

namespace {

// The chunk's items as the list keeps them (ListSpec::transform_item).
std::string stored_items(const ListSpec& spec, const nlohmann::json& items) {
  if (!spec.transform_item) return items.dump();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& item : items) out.push_back(spec.transform_item(item));
  return out.dump();
}

cloud_bridge::CommandAck apply_or_stage(store::Database& db, const ListSpec& spec, const Command& cmd,
                                  const std::string& received_at,
                                  ListSpec::Committed& committed) {
  const auto& body = cmd.body;
  const std::int64_t version = body.at("version").get<std::int64_t>();
  const std::int64_t chunks = body.contains("chunks") ? body.at("chunks").get<std::int64_t>() : 1;
  const std::int64_t chunk = body.contains("chunk") ? body.at("chunk").get<std::int64_t>() : 0;

  auto cur = db.prepare("SELECT version FROM bridge_lists WHERE name = ?1");
  cur.bind(1, spec.name);
  if (cur.step() && version <= cur.int64(0)) {
    throw Refused("version " + std::to_string(version) + " is not newer than the applied version " +
                  std::to_string(cur.int64(0)));
  }
  auto staged_max = db.prepare("SELECT max(version) FROM bridge_list_chunks WHERE name = ?1");
  staged_max.bind(1, spec.name);
  if (staged_max.step() && !staged_max.is_null(0) && staged_max.int64(0) > version) {
    throw Refused("version " + std::to_string(version) + " is older than version " +
                  std::to_string(staged_max.int64(0)) + " being received");
  }
  // A newer version supersedes the chunks of an older one still incomplete.
  db.prepare("DELETE FROM bridge_list_chunks WHERE name = ?1 AND version < ?2")
      .bind(1, spec.name)
      .bind(2, version)
      .run();
  auto other = db.prepare(
      "SELECT chunks FROM bridge_list_chunks WHERE name = ?1 AND version = ?2 AND chunks != ?3 "
      "LIMIT 1");
  other.bind(1, spec.name).bind(2, version).bind(3, chunks);
  if (other.step()) {
    throw Refused("chunks: " + std::to_string(chunks) + " differs from " +
                  std::to_string(other.int64(0)) + " given by earlier chunks of version " +
                  std::to_string(version));
  }
  db.prepare(
        "INSERT INTO bridge_list_chunks(name, version, chunk, chunks, items) "
        "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(name, version, chunk) DO UPDATE SET "
        "items = excluded.items")
      .bind(1, spec.name)
      .bind(2, version)
      .bind(3, chunk)
      .bind(4, chunks)
      .bind(5, stored_items(spec, body.at("items")))
      .run();
  auto count = db.prepare("SELECT count(*) FROM bridge_list_chunks WHERE name = ?1 AND version = ?2");
  count.bind(1, spec.name).bind(2, version);
  count.step();
  const std::int64_t staged = count.int64(0);
  count.reset();

  cloud_bridge::CommandAck ack;
  ack.id = cmd.id;
  ack.command = cmd.name;
  ack.ok = true;
  if (staged < chunks) {
    ack.result = {{"list", spec.name}, {"version", version}, {"applied", false},
                  {"staged", staged}, {"chunks", chunks}};
    return ack;
  }

  // Every chunk is here: replace the list in this transaction, one chunk in memory at a time.
  db.prepare("DELETE FROM bridge_list_items WHERE name = ?1").bind(1, spec.name).run();
  auto insert = db.prepare("INSERT INTO bridge_list_items(name, key, item) VALUES(?1, ?2, ?3)");
  auto read = db.prepare(
      "SELECT chunk, items FROM bridge_list_chunks WHERE name = ?1 AND version = ?2 ORDER BY chunk");
  read.bind(1, spec.name).bind(2, version);
  std::int64_t total = 0;
  while (read.step()) {
    auto items = nlohmann::json::parse(read.text(1));
    std::size_t i = 0;
    for (const auto& item : items) {
      if (static_cast<std::size_t>(++total) > spec.max_items) {
        throw Refused("the list has more than " + std::to_string(spec.max_items) + " items");
      }
      insert.bind(1, spec.name).bind(2, item.at("key").get<std::string>()).bind(3, item.dump());
      try {
        insert.run();
      } catch (const store::Error& e) {
        insert.reset();
        if ((e.code() & 0xff) == SQLITE_CONSTRAINT) {
          throw Refused("chunk " + std::to_string(read.int64(0)) + " items[" + std::to_string(i) +
                        "]: key already given by an earlier chunk" +
                        (spec.transform_item ? " or item" : ""));
        }
        throw;
      }
      ++i;
    }
  }
  read.reset();
  db.prepare(
        "INSERT INTO bridge_lists(name, version, items, command_id, applied_at) "
        "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(name) DO UPDATE SET version = excluded.version, "
        "items = excluded.items, command_id = excluded.command_id, applied_at = excluded.applied_at")
      .bind(1, spec.name)
      .bind(2, version)
      .bind(3, total)
      .bind(4, cmd.id)
      .bind(5, received_at)
      .run();
  db.prepare("DELETE FROM bridge_list_chunks WHERE name = ?1").bind(1, spec.name).run();
  // Every list change is audited with the change, in this transaction.
  audit::Entry entry;
  entry.ts = audit::parse_time_ms(received_at, 0) ? received_at : std::string();  // "" = now
  entry.kind = "list.change";
  entry.actor = cmd.actor();
  entry.subject = "list:" + spec.name;
  entry.detail_json = nlohmann::json{{"version", version}, {"items", total}, {"chunks", chunks}}.dump();
  audit::append(db, entry);
  if (spec.apply) {
    try {
      committed = spec.apply(db, spec.name, version);
    } catch (const store::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Refused(e.what());
    }
  }
  ack.result = {{"list", spec.name}, {"version", version}, {"applied", true}, {"items", total},
                {"chunks", chunks}};
  return ack;
}

}  // namespace

cloud_bridge::CommandAck apply_list_message(store::Database& db, const ListSpec& spec,
                                      const Command& cmd, const std::string& received_at,
                                      ListSpec::Committed* committed) {
  if (auto seen = find_answer(db, cmd.id); seen.state == StoredAnswer::State::done) {
    // Re-delivered (QoS 1) or re-sent after a lost ack: the same answer, nothing applied twice.
    cloud_bridge::CommandAck a = std::move(seen.ack);
    a.command = cmd.name;
    if (a.ok) {
      if (!a.result.is_object()) a.result = nlohmann::ordered_json::object();
      a.result["duplicate"] = true;
    }
    return a;
  }
  cloud_bridge::CommandAck ack;
  ListSpec::Committed on_commit;
  db.exec("SAVEPOINT list_command");
  try {
    ack = apply_or_stage(db, spec, cmd, received_at, on_commit);
    db.exec("RELEASE list_command");
  } catch (const Refused& r) {
    on_commit = nullptr;
    db.exec("ROLLBACK TO list_command");
    db.exec("RELEASE list_command");
    ack = refusal(cmd.name, cmd.id, r.what());
  } catch (...) {
    db.exec("ROLLBACK TO list_command");
    db.exec("RELEASE list_command");
    throw;
  }
  if (committed) *committed = std::move(on_commit);
  // In the list's transaction: the version and the answer to its id commit together.
  ack.id = cmd.id;
  store_answer(db, cmd.name, ack, received_at, 0);
  prune_answers(db, 0);
  return ack;
}

CommandHandler make_list_handler(store::Store& store, ListSpec spec,
                                 std::function<std::string()> timestamp) {
  auto shared = std::make_shared<const ListSpec>(std::move(spec));
  return [&store, shared, timestamp](Command cmd, CommandReply reply) {
    bool legacy = false;
    auto error = prepare_list_message(*shared, cmd.body, &legacy);
    if (legacy) {
      spdlog::warn("cmd/{} id {}: the {{version, entries}} shape is deprecated; send items with "
                   "keys (docs/mqtt-api.md)", cmd.name, cmd.id);
    }
    if (!error.empty()) {
      spdlog::warn("cmd/{} id {} refused: {}", cmd.name, cmd.id, error);
      reply(refusal(cmd.name, cmd.id, std::move(error)));
      return;
    }
    auto result = std::make_shared<cloud_bridge::CommandAck>();
    auto committed = std::make_shared<ListSpec::Committed>();
    auto name = cmd.name, id = cmd.id;
    auto received_at = timestamp();
    store.write(
        [shared, result, committed, cmd = std::move(cmd), received_at](store::Database& db) {
          *committed = nullptr;  // a retried job starts clean
          *result = apply_list_message(db, *shared, cmd, received_at, committed.get());
        },
        [result, committed, reply, name, id](std::exception_ptr e) {
          if (e) {
            std::string what = "storage error";
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              what += std::string(": ") + ex.what();
            }
            spdlog::error("cmd/{} id {}: {}", name, id, what);
            reply(refusal(name, id, what));
            return;
          }
          if (*committed) {
            // The version is durable: the domain swaps it in before the platform hears "applied".
            try {
              (*committed)();
            } catch (const std::exception& ex) {
              spdlog::error("cmd/{} id {}: publishing the applied list failed: {}", name, id,
                            ex.what());
            }
          }
          if (result->ok) {
            spdlog::info("cmd/{} id {}: {}", name, id, result->result.dump());
          } else {
            spdlog::warn("cmd/{} id {} refused: {}", name, id, result->error);
          }
          reply(*result);
        });
  };
}

}  // namespace estate::bridge
