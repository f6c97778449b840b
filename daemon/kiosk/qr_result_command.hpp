// cmd/qr-result (docs/mqtt-api.md, docs/schemas/cmd-qr-result.schema.json): the platform's
// answer about a QR payment-code payment it was asked to charge (a payment.qr_charge record) or
// asked about (payment.qr_query). Signed, timed and de-duplicated by the bridge like every
// command; the handler applies it through PaymentService::qr_result.
// Thread-safety: pure parsing.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "daemon/kiosk/payment_service.hpp"

namespace estate::kiosk {

// The answer a command body gives, or the refusal text ("" when fine). Body fields:
// payment_id (1-128 bytes), result (approved | declined | unknown), amount_fen (1..100000000,
// required when approved), result_code (1-64 bytes, required when declined), transaction_id
// (1-128 bytes), message (1-256 bytes); no other field.
std::string parse_qr_result_command(const nlohmann::json& body, QrResult& out);

}  // namespace estate::kiosk
