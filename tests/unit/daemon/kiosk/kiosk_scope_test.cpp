// What a kiosk token may see: sale handles from room look-ups, the look-up rate, and the
// Idempotency-Key check; and the terminal answers' mapping and card masking the kiosk relies on.
#include <gtest/gtest.h>

#include <set>

#include "daemon/kiosk/kiosk_scope.hpp"
#include "protocols/pos/ecr.hpp"

namespace estate::kiosk {
namespace {

using namespace std::chrono_literals;

TEST(KioskScope, SaleHandleIsBoundToTheTokenAndTheRoomAndExpires) {
  KioskScope scope;
  const auto t0 = KioskScope::Clock::now();
  auto h = scope.open_sale("kiosk-1", "1-2-301", t0);
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(scope.sale_room("kiosk-1", h, t0 + 1s), "1-2-301");
  EXPECT_FALSE(scope.sale_room("kiosk-2", h, t0 + 1s));          // another kiosk's token
  EXPECT_FALSE(scope.sale_room("kiosk-1", h + "0", t0 + 1s));    // not a handle
  EXPECT_FALSE(scope.sale_room("kiosk-1", h, t0 + kiosk_sale_ttl));
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(scope.open_sale("kiosk-1", "1-2-301", t0));
  EXPECT_EQ(seen.size(), 100u);  // random, never a counter
}

TEST(KioskScope, OpenSalesAreBounded) {
  KioskScope scope;
  const auto t0 = KioskScope::Clock::now();
  auto first = scope.open_sale("kiosk-1", "1-2-301", t0);
  for (std::size_t i = 0; i < kiosk_max_open_sales; ++i) {
    scope.open_sale("kiosk-1", "1-2-302", t0 + std::chrono::milliseconds(i + 1));
  }
  EXPECT_FALSE(scope.sale_room("kiosk-1", first, t0 + 1s));  // the oldest made room
}

TEST(KioskScope, RoomLookUpsPerKioskAreLimitedPerMinute) {
  KioskScope scope;
  const auto t0 = KioskScope::Clock::now();
  for (int i = 0; i < kiosk_lookups_per_minute; ++i) EXPECT_TRUE(scope.allow_lookup("kiosk-1", t0));
  EXPECT_FALSE(scope.allow_lookup("kiosk-1", t0 + 30s));
  EXPECT_TRUE(scope.allow_lookup("kiosk-2", t0 + 30s));  // per token
  EXPECT_TRUE(scope.allow_lookup("kiosk-1", t0 + 60s));
}

TEST(KioskScope, IdempotencyKeyIsRequiredAndPlain) {
  EXPECT_NE(check_idempotency_key(""), "");
  EXPECT_EQ(check_idempotency_key("3f2a9c"), "");
  EXPECT_EQ(check_idempotency_key("sale:1-2-301/..."), "Idempotency-Key: only [A-Za-z0-9._:-]");
  EXPECT_NE(check_idempotency_key(std::string(65, 'a')), "");
  EXPECT_EQ(check_idempotency_key(std::string(64, 'a')), "");
}

namespace ecr = protocols::pos;

TEST(TerminalAnswers, OnlyDocumentedCodesAreApprovalsOrDeclines) {
  const auto& p = *ecr::find_protocol(ecr::default_protocol);
  EXPECT_EQ(ecr::classify(p, ecr::Use::sale, "00"), ecr::ResultClass::approved);
  EXPECT_EQ(ecr::classify(p, ecr::Use::query, "11"), ecr::ResultClass::not_found);
  for (auto code : {"01", "05", "20", "93"}) {
    EXPECT_EQ(ecr::classify(p, ecr::Use::sale, code), ecr::ResultClass::declined) << code;
  }
  for (auto code : {"", "IP", "Z9", "0", "000", "99", " 00", "nf", "51"}) {
    EXPECT_EQ(ecr::classify(p, ecr::Use::sale, code), ecr::ResultClass::unknown) << code;
  }
}

TEST(TerminalAnswers, CardNumbersKeepAtMostTheFirstSixAndLastFourDigits) {
  EXPECT_EQ(ecr::mask_card_number("6222021234567891234"), "622202*********1234");
  EXPECT_EQ(ecr::mask_card_number("4111111111111111"), "411111******1111");
  EXPECT_EQ(ecr::mask_card_number("6222****1234"), "6222****1234");  // already masked
  EXPECT_EQ(ecr::mask_card_number("4111 1111 1111 1111"), "4111 11** **** 1111");
  EXPECT_EQ(ecr::mask_card_number(""), "");
  EXPECT_LE(ecr::mask_card_number(std::string(200, '9')).size(), 32u);
  EXPECT_EQ(ecr::mask_card_numbers_in_text("card 6222021234567891234 ok, ref 12345"),
            "card 622202*********1234 ok, ref 12345");
}

}  // namespace
}  // namespace estate::kiosk
