// The cloud bridge inside the daemon: runs a cloud_bridge::Bridge over the store's outbox, answers
// downlink commands through a CommandRegistry (ping and the versioned lists built in; domains
// add theirs with commands().add() before start), and records the broker connection state in
// meta rows broker_state / broker_state_since (read by `estate-edge status`).
// Every platform command goes through parse_command (envelope, nesting depth, signature when
// security.platform_public_keys is set), then a writer job that de-duplicates its id
// (bridge_commands: a known id gets its stored answer, nothing runs again), refuses it when late
// (check_times) and marks it running; only then does its handler run, and its answer is stored
// before it is sent. A second message with an id still running gets the same answer when it
// comes. The local admin API's lists (services.apply_list) skip all this: they carry a token.
// Started first and stopped last, so producers stop before the final drain. Its stop also waits
// for the store to finish the list commands it queued, so no list is published into a domain
// that is being destroyed.
// Thread-safety: start/stop from the daemon; commands() only before start().
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cloud-bridge/bridge.hpp"
#include "daemon/bridge/commands.hpp"
#include "daemon/bridge/store_outbox.hpp"
#include "daemon/runtime/component.hpp"

namespace estate::bridge {

// Downlink messages larger than this are refused with an error ack (documented in mqtt-api.md).
constexpr std::size_t max_command_bytes = 1 << 20;

class BridgeComponent : public runtime::Component, private cloud_bridge::CommandSink {
 public:
  // Throws std::runtime_error when the credentials/TLS files named in mqtt.* cannot be read.
  explicit BridgeComponent(runtime::Services& services);
  ~BridgeComponent() override;

  std::string_view name() const override { return "cloud-bridge"; }
  void start() override;
  void stop(std::function<void()> done) override;
  // Takes the new security.* command settings (keys, max ages, skew).
  void reload(std::shared_ptr<const config::SiteConfig> cfg) override;

  // The gateway's clock for command expiry, UTC seconds (tests and the fuzz target set one).
  void set_clock(std::function<std::int64_t()> now_utc_s) { clock_ = std::move(now_utc_s); }

  CommandRegistry& commands() { return registry_; }
  // Where the bridge hands each downlink message (the fuzz target calls it without a broker).
  cloud_bridge::CommandSink& command_sink() { return *this; }
  // A domain takes over one of the built-in lists (before start): its item checks and its
  // apply (ListSpec). Throws std::logic_error when spec.name is not a list the bridge handles.
  void set_list(ListSpec spec);

 private:
  void on_command(const std::string& name, std::string payload, Reply reply) override;
  void record_state(cloud_bridge::BrokerState state, const std::string& detail);
  void on_config_command(Command cmd, CommandReply reply);
  ListSpec tariffs_list_spec();
  std::shared_ptr<const CommandPolicy> policy() const;
  // Sends `ack` to the message that ran the command and to every duplicate that waited for it.
  void finish(const std::string& id, cloud_bridge::CommandAck ack, bool duplicate);
  // The handler answered: the answer is stored, then sent.
  void answered(Command cmd, std::int64_t keep_until, std::string received_at,
                cloud_bridge::CommandAck ack);

  static constexpr const char* kPlatformDropIn = "90-platform.yaml";        // cmd/config
  static constexpr const char* kTariffsDropIn = "80-platform-tariffs.yaml"; // the tariffs list

  runtime::Services& services_;
  std::shared_ptr<const config::SiteConfig> config_;
  StoreOutbox outbox_;
  CommandRegistry registry_;
  std::chrono::steady_clock::time_point started_at_;
  std::string recorded_state_;
  std::unique_ptr<cloud_bridge::Bridge> bridge_;
  std::function<std::int64_t()> clock_;
  mutable std::mutex policy_mutex_;
  std::shared_ptr<const CommandPolicy> policy_;
  // Commands between their de-duplication and their stored answer, by id: the command's name
  // and the replies of the message that runs it and of duplicates that came meanwhile.
  struct InFlight {
    std::string name;
    std::vector<Reply> replies;
  };
  std::mutex inflight_mutex_;
  std::map<std::string, InFlight> inflight_;
  std::function<void()> on_idle_;  // stop() waits for inflight_ to empty
  // The bridge's own lists (make_list_handler): their answer commits with their effect.
  std::set<std::string> transactional_lists_;
  // Handlers run here, in the order their commands were de-duplicated.
  boost::asio::strand<boost::asio::io_context::executor_type> dispatch_;
};

// The command policy of a site config (security.platform_public_keys, command_max_age_s,
// command_clock_skew_s over the built-in defaults).
CommandPolicy command_policy_of(const config::SiteConfig& cfg);

// Options for the bridge from the site config (password_file read here). Throws
// std::runtime_error naming the key and file when a file cannot be read.
cloud_bridge::BridgeOptions bridge_options(const config::SiteConfig& cfg);

}  // namespace estate::bridge
