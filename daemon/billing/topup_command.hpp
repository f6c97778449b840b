// cmd/topup (docs/mqtt-api.md): a top-up the platform took (the resident paid in the app) credited
// to a room's prepaid balance — the same engine call as a kiosk payment, idempotent on `ref`, so
// a re-delivered command credits once. A prepaid room brought above zero gets its supply
// re-opened by the engine.
#pragma once

#include <boost/asio/io_context.hpp>

#include "daemon/billing/engine.hpp"
#include "daemon/bridge/commands.hpp"

namespace estate::billing {

// The handler runs the top-up on `io` (it waits for the store), never on the bridge's strand.
bridge::CommandHandler topup_command(Engine& engine, boost::asio::io_context& io);

// The top-up a command body asks for, or the refusal text ("" when fine).
struct TopUpCommand {
  std::string room;
  Fen amount_fen = 0;
  std::string ref;
};
std::string parse_topup_command(const nlohmann::json& body, TopUpCommand& out);

}  // namespace estate::billing
