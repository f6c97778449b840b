// The gates' downlink commands: parking-pay and gate-open (GateComponent::add_downlinks;
// docs/mqtt-api.md). Their access lists, the blocklist and monthly passes among them, are the
// cloud bridge's versioned lists (daemon/access/bridge_lists.hpp, wired in daemon/wiring.cpp).
#include "daemon/gate/gate_component.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "daemon/audit/audit.hpp"
#include "daemon/gate/gate_detail.hpp"
#include "daemon/kiosk/parking_charges.hpp"
#include "daemon/parking/time.hpp"
#include "daemon/runtime/bounded_json.hpp"

namespace estate::gate {

namespace asio = boost::asio;
using detail::parse_payment;

void GateComponent::add_downlinks(bridge::CommandRegistry& commands) {
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  commands.add("parking-pay", [this, alive](bridge::Command cmd, bridge::CommandReply reply) {
    asio::post(worker_, [this, alive, cmd = std::move(cmd), reply = std::move(reply)] {
      cloud_bridge::CommandAck ack;
      ack.id = cmd.id;
      ack.command = cmd.name;
      auto a = alive.lock();
      std::int64_t session = 0, amount = 0;
      std::string reference;
      if (!a || !*a) {
        ack.error = "gates are stopping";
      } else if (auto e = parse_payment(cmd.body, {"v", "id"}, session, amount, reference);
                 !e.empty()) {
        ack.error = e;
      } else {
        try {
          auto r = pay_parking(session, amount, reference, "platform:" + cmd.id);
          ack.ok = r.ok;
          if (r.ok) {
            ack.result = {{"session", session}, {"paid_fen", r.paid_fen},
                          {"gate_opened", r.open_gate}, {"repeated", r.repeated}};
          } else {
            ack.error = r.error;
          }
        } catch (const std::exception& e) {
          ack.error = std::string("recording the payment failed: ") + e.what();
        }
      }
      reply(std::move(ack));
    });
  });
  commands.add("gate-open", [this, alive](bridge::Command cmd, bridge::CommandReply reply) {
    cloud_bridge::CommandAck ack;
    ack.id = cmd.id;
    ack.command = cmd.name;
    auto a = alive.lock();
    const auto gate = cmd.body.find("gate");
    const auto reason = cmd.body.find("reason");
    if (!a || !*a) {
      ack.error = "gates are stopping";
    } else if (gate == cmd.body.end() || !gate->is_string() || !gates_.count(gate->get<std::string>())) {
      ack.error = "gate: expected the id of a configured gate";
    } else if (reason != cmd.body.end() && !reason->is_string()) {
      ack.error = "reason: expected a string";
    } else {
      // Opened, then the event and its audit entry (who asked) in one transaction; the
      // platform hears "opened" once both are durable.
      std::string g = gate->get<std::string>();
      std::string why = reason != cmd.body.end() ? reason->get<std::string>() : "platform";
      audit::Entry entry{"", "gate.manual_open", "platform:" + cmd.id, "device:" + g, "",
                         nlohmann::json{{"reason", why}}.dump()};
      asio::post(worker_, [this, g, why, entry = std::move(entry), ack = std::move(ack),
                           reply = std::move(reply)]() mutable {
        try {
          manual_open(g, why, entry);
          ack.ok = true;
          ack.result = {{"gate", g}, {"opened", true}};
        } catch (const std::exception& e) {
          ack.error = std::string("recording the manual open failed: ") + e.what();
        }
        reply(std::move(ack));
      });
      return;
    }
    reply(std::move(ack));
  });
}

}  // namespace estate::gate
