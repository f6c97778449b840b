#include "daemon/billing/topup_command.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

namespace estate::billing {

namespace {
// One top-up from the platform is at most 1 000 000 yuan; anything above is a mistake.
constexpr Fen kMaxTopUpFen = 100'000'000;
}  // namespace

std::string parse_topup_command(const nlohmann::json& body, TopUpCommand& out) {
  for (auto& [k, v] : body.items()) {
    if (k != "v" && k != "id" && k != "room" && k != "amount_fen" && k != "ref") {
      return "unknown field '" + k.substr(0, 64) + "'";
    }
  }
  auto room = body.find("room");
  if (room == body.end() || !room->is_string() || room->get_ref<const std::string&>().empty() ||
      room->get_ref<const std::string&>().size() > 64) {
    return "room: expected a string of 1 to 64 bytes";
  }
  auto amount = body.find("amount_fen");
  if (amount == body.end() || !amount->is_number_integer() || amount->get<std::int64_t>() < 1 ||
      amount->get<std::int64_t>() > kMaxTopUpFen) {
    return "amount_fen: expected an integer from 1 to " + std::to_string(kMaxTopUpFen);
  }
  auto ref = body.find("ref");
  if (ref == body.end() || !ref->is_string() || ref->get_ref<const std::string&>().empty() ||
      ref->get_ref<const std::string&>().size() > 128) {
    return "ref: expected the payment's unique reference, a string of 1 to 128 bytes";
  }
  out.room = room->get<std::string>();
  out.amount_fen = amount->get<Fen>();
  out.ref = "platform:" + ref->get<std::string>();
  return {};
}

bridge::CommandHandler topup_command(Engine& engine, boost::asio::io_context& io) {
  return [&engine, &io](bridge::Command cmd, bridge::CommandReply reply) {
    cloud_bridge::CommandAck ack;
    ack.id = cmd.id;
    ack.command = cmd.name;
    TopUpCommand t;
    if (auto why = parse_topup_command(cmd.body, t); !why.empty()) {
      ack.error = why;
      reply(std::move(ack));
      return;
    }
    boost::asio::post(io, [&engine, t, ack = std::move(ack), reply = std::move(reply)]() mutable {
      try {
        auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
        auto r = engine.top_up_sync(t.room, t.amount_fen, "platform", t.ref, now);
        ack.ok = true;
        ack.result = {{"room", t.room},
                      {"amount_fen", t.amount_fen},
                      {"balance_fen", r.balance_fen},
                      {"duplicate", r.duplicate},
                      {"reopened", r.reopened}};
      } catch (const std::invalid_argument& e) {
        ack.error = e.what();
      } catch (const std::exception& e) {
        spdlog::error("cmd/topup {}: {}", ack.id.value_or(""), e.what());
        ack.error = std::string("not applied: ") + e.what();
      }
      reply(std::move(ack));
    });
  };
}

}  // namespace estate::billing
