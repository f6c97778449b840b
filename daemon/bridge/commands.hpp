// Downlink commands (docs/mqtt-api.md): the registry of handlers by command name, the common
// envelope checks, and versioned lists (cards, plates, visitor-passes, blocklist, monthly-passes,
// arrears, tariffs).
//
// A message on estate/<site>/<gateway>/cmd/<name> is JSON {"v":1,"id":"<command id>",...}.
// parse_command() checks the envelope; the registry finds the handler; every handler answers
// exactly once with a cloud_bridge::CommandAck.
//
// Lists: {"v":1,"id":..,"version":N,"items":[{"key":"..",...},...]} optionally with
// "chunk":i,"chunks":n for a list sent in several messages. A version not newer than the applied
// one is refused; chunks are staged and the version is applied only when all have arrived, in
// one writer transaction (all or nothing): the list's rows in bridge_list_items are replaced,
// bridge_lists records the version, an audit entry `list.change` is appended, then the domain's
// ListSpec::apply runs in that transaction. What apply returns runs once the transaction has
// committed, before the ack is sent: the domain swaps the new version into its live state there
// (an ack with "applied":true means the gates and billing already decide from it).
// Thread-safety: the registry is filled before the bridge starts and read-only afterwards.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cloud-bridge/command_sink.hpp"
#include "daemon/bridge/command_proof.hpp"
#include "daemon/store/store.hpp"

namespace estate::bridge {

struct Command {
  Command() = default;
  Command(std::string name_, std::string id_, nlohmann::json body_, std::string source_ = {})
      : name(std::move(name_)), id(std::move(id_)), body(std::move(body_)),
        source(std::move(source_)) {}
  std::string name;     // from the topic
  std::string id;       // the platform's command id
  nlohmann::json body;  // the whole message (an object, v == 1)
  // Who sent it, as the audit actor: empty = the platform ("platform:<id>"); the local admin
  // API sets "token:<name>".
  std::string source;
  // issued_at/expires of a platform command (parse_command); unset for the local admin API's.
  std::optional<CommandTimes> times;
  std::string actor() const { return source.empty() ? "platform:" + id : source; }
};

using CommandReply = cloud_bridge::CommandSink::Reply;
using CommandHandler = std::function<void(Command, CommandReply)>;

// Checks the envelope of a platform command: JSON nested at most runtime::max_json_depth
// levels, an object, id, v == 1, issued_at and expires (command_times), and the signature when
// policy.needs_signature(name). The command's body is the message without issued_at, expires
// and sig (handlers see only v, id and their own fields). It does not check the times against
// the clock (check_times: the bridge does, after de-duplication). On failure returns the error
// ack to send (id set when it was readable).
struct ParsedCommand {
  std::optional<Command> command;
  cloud_bridge::CommandAck refusal;
};
ParsedCommand parse_command(const std::string& name, const std::string& payload,
                            const CommandPolicy& policy = {});

// The answers given to command ids (bridge_commands), so a command id runs at most once.
struct StoredAnswer {
  enum class State { none, running, done } state = State::none;
  std::string name;       // the command that used the id
  cloud_bridge::CommandAck ack; // when done
};
StoredAnswer find_answer(store::Database& db, const std::string& id);
// Before a handler runs: the id is taken ('running') until store_answer (a 'running' row of the
// same id is taken again: a list re-run after a restart).
void mark_running(store::Database& db, const Command& cmd, const std::string& received_at,
                  std::int64_t keep_until);
// The answer, 'done' (inserted, or replacing the 'running' row).
void store_answer(store::Database& db, const std::string& name, const cloud_bridge::CommandAck& ack,
                  const std::string& received_at, std::int64_t keep_until);
// Bounds the table: answers beyond the newest remembered_answers go once their command would be
// refused as late anyway (keep_until < now), and beyond max_answers in any case.
inline constexpr std::int64_t remembered_answers = 10000;
inline constexpr std::int64_t max_answers = 100000;
void prune_answers(store::Database& db, std::int64_t now);

class CommandRegistry {
 public:
  // Throws std::logic_error when `name` is taken (caught at start-up).
  void add(const std::string& name, CommandHandler handler);
  // Replaces the handler of `name` (a domain taking over a built-in list). Throws
  // std::logic_error when `name` has no handler yet.
  void replace(const std::string& name, CommandHandler handler);
  bool has(const std::string& name) const { return handlers_.count(name) != 0; }
  // Answers every command: unknown names get an error ack.
  void dispatch(Command cmd, CommandReply reply) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, CommandHandler> handlers_;
};

struct ListSpec {
  std::string name;                      // the command name: "cards", "plates" ...
  std::size_t max_items = 2'000'000;     // over all chunks
  // Checks one item, already known to be an object with a string "key" of 1..128 bytes.
  // Returns an error message, or "" when the item is acceptable.
  std::function<std::string(const nlohmann::json& item)> validate_item;
  // Optional: what is stored of an item validate_item accepted, applied before the item's chunk
  // (and so the item) is stored: a domain keeps credentials as keyed hashes this way, and then
  // only ever reads the transformed form back (for_each_list_item). The result is an object
  // with a string "key" of 1..128 bytes. Two items whose transformed keys are equal refuse the
  // version.
  std::function<nlohmann::json(const nlohmann::json& item)> transform_item;
  // Optional: a message in a deprecated shape, rewritten into the envelope above before any
  // check (the blocklist's and monthly passes' {"version", "entries"}, docs/mqtt-api.md). Returns
  // true when it rewrote `body` (which is then checked as any list message, its refusals naming
  // entries[i] where the message had them), false to leave it as it is.
  std::function<bool(nlohmann::json& body)> upgrade_legacy;
  // Runs inside the writer transaction that applies a complete version, after the list's rows
  // in bridge_list_items were replaced (read them with for_each_list_item). Throw to refuse:
  // then nothing of the version is kept. May return an action to run once that transaction has
  // committed (on the store's writer thread; must not block on the store): the domain publishes
  // the new version to its live state there. Not run when the version was refused or the commit
  // failed.
  using Committed = std::function<void()>;
  std::function<Committed(store::Database& db, const std::string& list, std::int64_t version)>
      apply;
};

// Calls `f` with each stored item of `list` (bridge_list_items), in key order.
void for_each_list_item(store::Database& db, const std::string& list,
                        const std::function<void(const nlohmann::json& item)>& f);

// The lists the platform sends; each domain fills in validate_item/apply for its own.
std::vector<ListSpec> default_list_specs();

// A handler applying `spec` through `store`. `timestamp` gives ISO 8601 times for the records.
CommandHandler make_list_handler(store::Store& store, ListSpec spec,
                                 std::function<std::string()> timestamp);

// The outcome of one list message, computed in the writer job (exposed for unit tests). When a
// version was applied and the domain returned an action, it is moved to `*committed` (if given)
// for the caller to run after the commit.
cloud_bridge::CommandAck apply_list_message(store::Database& db, const ListSpec& spec,
                                      const Command& cmd, const std::string& received_at,
                                      ListSpec::Committed* committed = nullptr);

// Structure and item checks that need no storage; "" when fine.
std::string check_list_message(const ListSpec& spec, const nlohmann::json& body);
// What the list handler does before the writer job: a deprecated shape rewritten
// (spec.upgrade_legacy; `*legacy` tells whether it was), then check_list_message.
std::string prepare_list_message(const ListSpec& spec, nlohmann::json& body,
                                 bool* legacy = nullptr);

}  // namespace estate::bridge
