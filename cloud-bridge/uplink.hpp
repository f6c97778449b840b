// Pure pieces of the uplink contract (docs/mqtt-api.md): how outbox records become MQTT
// messages, the broker URL, and the state (birth / last will) payloads. No I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "cloud-bridge/outbox_source.hpp"

namespace estate::cloud_bridge {

// One MQTT message: one record (payload = its envelope) or, with batching, several consecutive
// records of the same stream as a JSON array of envelopes, each keeping its own seq.
struct UplinkMessage {
  std::string stream;
  std::string payload;
  std::vector<std::int64_t> seqs;  // ascending
};

// Takes the next message off the front of `pending` (which must be non-empty): up to
// `batch_max` consecutive records of the front record's stream. batch_max <= 1: no array.
UplinkMessage take_message(std::deque<OutboxRecord>& pending, int batch_max);

// mqtt://host[:1883] -> tcp://host:1883, mqtts://host[:8883] -> ssl://host:8883 (Paho's
// schemes); tcp:// and ssl:// pass through. nullopt for anything else.
std::optional<std::string> paho_uri(const std::string& url);
bool is_tls(const std::string& url);

// Retained on estate/<site>/<gateway>/state.
std::string birth_payload(const std::string& gateway, const std::string& version,
                          std::int64_t uptime_s, std::int64_t backlog, const std::string& ts);
std::string offline_payload(const std::string& gateway, const std::string& version,
                            const std::string& ts, bool clean);

}  // namespace estate::cloud_bridge
