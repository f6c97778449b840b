// `estate-edge sign-command`: a platform command signed as the gateway checks it
// (docs/mqtt-api.md, "Signed commands"), for tests and technicians.
#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "daemon/bridge/command_proof.hpp"
#include "daemon/cli/cli.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/runtime/bounded_json.hpp"

namespace estate::cli {

namespace {

std::string read_all(const std::string& file) {
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream f(file, std::ios::binary);
  if (!f) fail(exit_usage, "cannot read " + file);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string random_id() {
  unsigned char b[8];
  if (RAND_bytes(b, sizeof b) != 1) fail(exit_runtime, "no random bytes for a command id");
  static constexpr char digits[] = "0123456789abcdef";
  std::string id = "cmd-";
  for (unsigned char c : b) {
    id += digits[c >> 4];
    id += digits[c & 15];
  }
  return id;
}

std::int64_t parse_time(const std::string& option, const std::string& text) {
  std::string error;
  auto t = parking::parse_iso8601(text, error);
  if (!t) fail(exit_usage, option + ": " + error);
  return t->utc_seconds;
}

}  // namespace

void add_sign_command_command(CLI::App& app) {
  struct Options {
    std::string name;
    std::string body = "-";
    std::string key_file;
    std::string id;
    std::string issued_at;
    std::string expires;
    std::int64_t valid_for = 60;
    bool public_key = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "sign-command",
      "Sign a platform command with an Ed25519 private key and print the message to publish on "
      "estate/<site>/<gateway>/cmd/<name> (docs/mqtt-api.md). The body is a JSON object with the "
      "command's own fields (e.g. {\"gate\":\"exit-1\"}); v, id, issued_at, expires and sig are "
      "set here. Numbers must be integers: send decimals as strings.");
  cmd->add_option("name", o->name, "Command name, as in the topic (gate-open, topup, cards ...)");
  cmd->add_option("body", o->body, "File with the JSON body, or - for stdin (default)");
  cmd->add_option("--key", o->key_file,
                  "Private key file: PEM (openssl genpkey -algorithm ed25519 -out key.pem) or the "
                  "32-byte seed as 64 hex digits")
      ->required();
  cmd->add_option("--id", o->id, "Command id (default: the body's id, else a random cmd-<hex>)");
  cmd->add_option("--issued-at", o->issued_at,
                  "ISO 8601 time with an offset (default: now, in UTC)");
  cmd->add_option("--expires", o->expires,
                  "ISO 8601 time with an offset (default: issued_at + --valid-for)");
  cmd->add_option("--valid-for", o->valid_for, "Seconds from issued_at to expires (default 60)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{30} * 86400));
  cmd->add_flag("--public-key", o->public_key,
                "Print the key's public half (64 hex digits, for security.platform_public_keys) "
                "instead of signing");
  cmd->callback([o] {
    std::string error;
    auto signer = bridge::CommandSigner::from_text(read_all(o->key_file), error);
    if (!signer) fail(exit_usage, o->key_file + ": " + error);
    if (o->public_key) {
      std::cout << signer->public_key_hex() << "\n";
      return;
    }
    if (o->name.empty()) fail(exit_usage, "give the command name (see --help)");
    auto message = runtime::parse_json_bounded(read_all(o->body));
    if (message.is_discarded() || !message.is_object()) {
      fail(exit_usage, o->body + ": expected a JSON object (the command's body)");
    }
    std::string id = o->id;
    if (id.empty() && message.contains("id") && message["id"].is_string()) {
      id = message["id"].get<std::string>();
    }
    if (id.empty()) id = random_id();
    const std::int64_t issued =
        o->issued_at.empty()
            ? std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count()
            : parse_time("--issued-at", o->issued_at);
    const std::int64_t expires =
        o->expires.empty() ? issued + o->valid_for : parse_time("--expires", o->expires);
    if (expires <= issued) fail(exit_usage, "--expires: must be after issued_at");
    message["v"] = 1;
    message["id"] = id;
    message["issued_at"] =
        o->issued_at.empty() ? parking::format_iso8601(issued, 0) : o->issued_at;
    message["expires"] = o->expires.empty() ? parking::format_iso8601(expires, 0) : o->expires;
    if (auto why = bridge::sign_message(*signer, o->name, message); !why.empty()) {
      fail(exit_usage, why);
    }
    std::cout << message.dump() << "\n";
  });
}

}  // namespace estate::cli
