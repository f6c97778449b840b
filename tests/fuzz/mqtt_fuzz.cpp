// Fuzzes the MQTT downlink path without the broker: an input is "<topic>\n<payload>", taken as
// the bridge takes a message (the topic to a command name with cloud_bridge::Topics, the size limit),
// then the daemon's own command sink (BridgeComponent: envelope checks with the nesting bound,
// issued_at/expires against a fixed clock, id de-duplication, the registry) with every
// handler the site registers: ping, config (a conf.d drop-in validated with the whole config),
// the lists cards / plates / visitor-passes / arrears / tariffs / blocklist / monthly-passes,
// topup, parking-pay, gate-open, valve and relay, on a throwaway site (fuzz_site.hpp). The ack
// is encoded as it is published.
// Findings: a crash, leak or UB; a command not answered within 20 s, or answered twice; an ack
// that is not JSON or names another command.
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "cloud-bridge/topics.hpp"
#include "daemon/bridge/bridge_component.hpp"
#include "tests/fuzz/fuzz_site.hpp"

namespace {

struct Answer {
  std::mutex mutex;
  std::condition_variable cv;
  int replies = 0;
  estate::cloud_bridge::CommandAck ack;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "mqtt_fuzz: %s\n", what.c_str());
  std::abort();
}

void check_ack(const estate::cloud_bridge::CommandAck& ack, const std::string& name) {
  if (ack.command != name) fail("ack names command '" + ack.command + "', not '" + name + "'");
  if (!ack.ok && ack.error.empty()) fail("a refusal without an error text");
  auto text = estate::cloud_bridge::encode_ack(ack, "2026-03-01T08:00:00.000+08:00");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("v", 0) != 1) fail("ack is not JSON: " + text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto& site = estate::fuzz::site();
  static const estate::cloud_bridge::Topics topics(estate::fuzz::kSiteId, estate::fuzz::kGatewayId);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view topic = in.substr(0, nl);
  std::string payload(nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1));

  auto name = topics.command_name(topic);
  if (!name) return 0;  // not a command topic: the bridge ignores it
  if (payload.size() > estate::bridge::max_command_bytes) return 0;  // refused by size, unparsed

  auto answer = std::make_shared<Answer>();
  site.bridge->command_sink().on_command(*name, payload, [answer](estate::cloud_bridge::CommandAck ack) {
    std::lock_guard lock(answer->mutex);
    if (++answer->replies == 1) answer->ack = std::move(ack);
    answer->cv.notify_all();
  });
  std::unique_lock lock(answer->mutex);
  if (!answer->cv.wait_for(lock, std::chrono::seconds(20), [&] { return answer->replies > 0; })) {
    fail("cmd/" + *name + ": no ack within 20 s");
  }
  check_ack(answer->ack, *name);
  // Command ids are answered once per site: forget them, so every input reaches the handlers
  // (a seed's id would otherwise get its stored answer from the second run on). The answer was
  // stored before it was sent.
  site.store->write_sync([](estate::store::Database& db) { db.exec("DELETE FROM bridge_commands"); });
  // A second answer to an earlier command shows here, on a later input: the count is kept.
  static std::mutex earlier_mutex;
  static std::shared_ptr<Answer> earlier;
  {
    std::lock_guard e(earlier_mutex);
    if (earlier) {
      std::lock_guard l(earlier->mutex);
      if (earlier->replies != 1) fail("a command was answered more than once");
    }
    earlier = answer;
  }
  return 0;
}
