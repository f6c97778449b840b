// The cloud bridge inside the daemon: runs a bridge::Bridge over the store's outbox, answers
// downlink commands through a CommandRegistry (ping and the versioned lists built in; domains
// add theirs with commands().add() before start), and records the broker connection state in
// meta rows broker_state / broker_state_since (read by `estate-edge status`).
// Started first and stopped last, so producers stop before the final drain. Its stop also waits
// for the store to finish the list commands it queued, so no list is published into a domain
// that is being destroyed.
// Thread-safety: start/stop from the daemon; commands() only before start().
#pragma once

#include <memory>
#include <string>

#include "cloud-bridge/bridge.hpp"
#include "daemon/bridge/commands.hpp"
#include "daemon/bridge/store_outbox.hpp"
#include "daemon/runtime/component.hpp"

namespace estate::cloud {

// Downlink messages larger than this are refused with an error ack (documented in mqtt-api.md).
constexpr std::size_t max_command_bytes = 1 << 20;

class BridgeComponent : public runtime::Component, private bridge::CommandSink {
 public:
  // Throws std::runtime_error when the credentials/TLS files named in mqtt.* cannot be read.
  explicit BridgeComponent(runtime::Services& services);
  ~BridgeComponent() override;

  std::string_view name() const override { return "cloud-bridge"; }
  void start() override;
  void stop(std::function<void()> done) override;

  CommandRegistry& commands() { return registry_; }
  // Where the bridge hands each downlink message (the fuzz target calls it without a broker).
  bridge::CommandSink& command_sink() { return *this; }
  // A domain takes over one of the built-in lists (before start): its item checks and its
  // apply (ListSpec). Throws std::logic_error when spec.name is not a list the bridge handles.
  void set_list(ListSpec spec);

 private:
  void on_command(const std::string& name, std::string payload, Reply reply) override;
  void record_state(bridge::BrokerState state, const std::string& detail);
  void on_config_command(Command cmd, CommandReply reply);
  ListSpec tariffs_list_spec();

  static constexpr const char* kPlatformDropIn = "90-platform.yaml";        // cmd/config
  static constexpr const char* kTariffsDropIn = "80-platform-tariffs.yaml"; // the tariffs list

  runtime::Services& services_;
  std::shared_ptr<const config::SiteConfig> config_;
  StoreOutbox outbox_;
  CommandRegistry registry_;
  std::chrono::steady_clock::time_point started_at_;
  std::string recorded_state_;
  std::unique_ptr<bridge::Bridge> bridge_;
};

// Options for the bridge from the site config (password_file read here). Throws
// std::runtime_error naming the key and file when a file cannot be read.
bridge::BridgeOptions bridge_options(const config::SiteConfig& cfg);

}  // namespace estate::cloud
