#include "daemon/kiosk/qr_result_command.hpp"

namespace estate::kiosk {

namespace {

// A string member of 1..max bytes: "" when fine (or absent and optional), else the refusal.
std::string text(const nlohmann::json& body, const char* key, std::size_t max, bool required,
                 std::string& out) {
  auto it = body.find(key);
  if (it == body.end()) {
    return required ? std::string(key) + ": required, a string of 1 to " + std::to_string(max) +
                          " bytes"
                    : std::string();
  }
  if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
      it->get_ref<const std::string&>().size() > max) {
    return std::string(key) + ": expected a string of 1 to " + std::to_string(max) + " bytes";
  }
  out = it->get<std::string>();
  return {};
}

constexpr Fen kMaxQrFen = 100'000'000;

}  // namespace

std::string parse_qr_result_command(const nlohmann::json& body, QrResult& out) {
  for (auto& [k, v] : body.items()) {
    if (k != "v" && k != "id" && k != "payment_id" && k != "result" && k != "amount_fen" &&
        k != "result_code" && k != "transaction_id" && k != "message") {
      return "unknown field '" + k.substr(0, 64) + "'";
    }
  }
  if (auto e = text(body, "payment_id", 128, true, out.payment_id); !e.empty()) return e;
  std::string result;
  auto r = body.find("result");
  if (r == body.end() || !r->is_string()) {
    return "result: expected \"approved\", \"declined\" or \"unknown\"";
  }
  result = r->get<std::string>();
  if (result == "approved") out.outcome = QrResult::Outcome::approved;
  else if (result == "declined") out.outcome = QrResult::Outcome::declined;
  else if (result == "unknown") out.outcome = QrResult::Outcome::unknown;
  else return "result: expected \"approved\", \"declined\" or \"unknown\"";
  if (auto a = body.find("amount_fen"); a != body.end()) {
    if (!a->is_number_integer() || a->get<std::int64_t>() < 1 || a->get<std::int64_t>() > kMaxQrFen) {
      return "amount_fen: expected an integer from 1 to " + std::to_string(kMaxQrFen);
    }
    out.amount_fen = a->get<Fen>();
  } else if (out.outcome == QrResult::Outcome::approved) {
    return "amount_fen: required with result approved (the amount the acquirer took)";
  }
  if (auto e = text(body, "result_code", 64, out.outcome == QrResult::Outcome::declined,
                    out.result_code);
      !e.empty()) {
    return out.outcome == QrResult::Outcome::declined && body.find("result_code") == body.end()
               ? "result_code: required with result declined (the acquirer's code)"
               : e;
  }
  if (auto e = text(body, "transaction_id", 128, false, out.transaction_id); !e.empty()) return e;
  if (auto e = text(body, "message", 256, false, out.message); !e.empty()) return e;
  return {};
}

}  // namespace estate::kiosk
