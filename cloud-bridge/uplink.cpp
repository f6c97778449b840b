#include "cloud-bridge/uplink.hpp"

#include <nlohmann/json.hpp>

namespace estate::cloud_bridge {

UplinkMessage take_message(std::deque<OutboxRecord>& pending, int batch_max) {
  UplinkMessage m;
  m.stream = pending.front().stream;
  if (batch_max <= 1) {
    m.seqs.push_back(pending.front().seq);
    m.payload = std::move(pending.front().payload);
    pending.pop_front();
    return m;
  }
  // The envelopes are already JSON text; splice them instead of re-parsing.
  m.payload = "[";
  while (!pending.empty() && pending.front().stream == m.stream &&
         static_cast<int>(m.seqs.size()) < batch_max) {
    if (!m.seqs.empty()) m.payload += ',';
    m.payload += pending.front().payload;
    m.seqs.push_back(pending.front().seq);
    pending.pop_front();
  }
  m.payload += ']';
  return m;
}

std::optional<std::string> paho_uri(const std::string& url) {
  struct Scheme {
    const char* from;
    const char* to;
    const char* port;
  };
  static const Scheme schemes[] = {{"mqtt://", "tcp://", "1883"},
                                   {"mqtts://", "ssl://", "8883"},
                                   {"tcp://", "tcp://", "1883"},
                                   {"ssl://", "ssl://", "8883"}};
  for (const auto& s : schemes) {
    std::string from = s.from;
    if (url.rfind(from, 0) != 0) continue;
    std::string rest = url.substr(from.size());
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.empty() || rest.find('/') != std::string::npos) return std::nullopt;
    // host, host:port, [v6], [v6]:port
    auto close = rest.rfind(']');
    auto colon = rest.rfind(':');
    bool has_port = colon != std::string::npos && (close == std::string::npos || colon > close);
    if (has_port && colon + 1 == rest.size()) return std::nullopt;
    return std::string(s.to) + rest + (has_port ? "" : std::string(":") + s.port);
  }
  return std::nullopt;
}

bool is_tls(const std::string& url) {
  return url.rfind("mqtts://", 0) == 0 || url.rfind("ssl://", 0) == 0;
}

std::string birth_payload(const std::string& gateway, const std::string& version,
                          std::int64_t uptime_s, std::int64_t backlog, const std::string& ts) {
  nlohmann::ordered_json j{{"v", 1},         {"gateway", gateway},   {"state", "online"},
                           {"ts", ts},       {"version", version},   {"uptime_s", uptime_s},
                           {"backlog", backlog}};
  return j.dump();
}

std::string offline_payload(const std::string& gateway, const std::string& version,
                            const std::string& ts, bool clean) {
  nlohmann::ordered_json j{{"v", 1},   {"gateway", gateway}, {"state", "offline"},
                           {"ts", ts}, {"version", version}, {"clean", clean}};
  return j.dump();
}

}  // namespace estate::cloud_bridge
