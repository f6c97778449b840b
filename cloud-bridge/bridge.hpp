// The MQTT session and the outbox drain (docs/mqtt-api.md).
//
// One Paho async client (MQTT 3.1.1, persistent session, client id = gateway id, last will
// "offline" retained on .../state). Records are read from an OutboxSource in seq order and
// published at QoS 1 on estate/<site>/<gateway>/<stream>, at most `inflight` messages
// unacknowledged; a record is retired (OutboxSource::acknowledge) only on its PUBACK. After a
// lost connection the unacknowledged records are sent again, in order, once reconnected.
// Reconnects follow drivers::Backoff (drivers/transports/backoff.hpp, target estate_backoff): a
// fast phase, then decorrelated jitter under a ceiling that grows with the outage; a broker that
// refuses the connection (bad credentials, not authorised) is told apart, reported once and
// retried near the cap. Commands arriving on .../cmd/<name> go to a CommandSink; its answers are
// published on .../acks.
//
// Thread-safety: all state lives on one strand of the io_context; Paho's callbacks only post
// onto it. start()/stop()/state() may be called from any thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cloud-bridge/command_sink.hpp"
#include "cloud-bridge/outbox_source.hpp"
#include "drivers/transports/backoff.hpp"

namespace estate::cloud_bridge {

struct BridgeOptions {
  std::string url;        // mqtt://host:port, mqtts://host:port
  std::string site, gateway;  // topic segments; the gateway is also the client id
  std::string version;    // software version in the state messages
  std::string username;
  std::string password;   // never logged
  std::string ca_file, cert_file, key_file;
  std::chrono::seconds keepalive{30};
  int inflight = 32;      // QoS 1 messages unacknowledged at once
  int batch = 1;          // records per message at most (1: one record, no array)
  std::chrono::seconds drain_timeout{10};
  drivers::BackoffPolicy reconnect;  // the reconnect schedule (docs/mqtt-api.md, "Reconnecting")
  std::chrono::milliseconds poll_interval{50};  // how often an empty outbox is looked at again
  std::size_t max_command_bytes = 1 << 20;      // larger downlink messages are refused
  std::function<std::string()> timestamp;       // ISO 8601 with the site's offset
};

// disconnected: the broker is away (retrying); refused: it answered and refused us (the detail
// says why), retried near the backoff's cap until it accepts.
enum class BrokerState { connecting, connected, disconnected, refused, stopped };
const char* to_string(BrokerState s);

class Bridge {
 public:
  using StateListener = std::function<void(BrokerState, const std::string& detail)>;

  // Throws std::invalid_argument for a URL Paho cannot use. `source`, `sink` and `on_state`
  // must outlive the bridge; on_state is called on the strand.
  Bridge(boost::asio::io_context& io, BridgeOptions options, OutboxSource& source,
         CommandSink& sink, StateListener on_state);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  void start();
  // Stops publishing new records, waits up to drain_timeout for the in-flight ones, publishes
  // the clean "offline" state, disconnects, then calls done (on the strand).
  void stop(std::function<void()> done);

  struct Stats {
    std::uint64_t published_messages = 0, published_records = 0, acked_records = 0;
    std::uint64_t connects = 0, commands = 0;
  };
  Stats stats() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace estate::cloud_bridge
