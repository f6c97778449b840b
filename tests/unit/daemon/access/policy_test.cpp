// Decisions from lists, passes, arrears policy and anti-passback, without a store.
#include <gtest/gtest.h>

#include <map>

#include "daemon/access/policy.hpp"
#include "daemon/parking/time.hpp"

namespace estate::access {
namespace {

class FixedArrears final : public ArrearsSource {
 public:
  std::map<std::string, int, std::less<>> levels;
  int arrears_level(std::string_view room) const override {
    auto it = levels.find(room);
    return it == levels.end() ? 0 : it->second;
  }
};

std::int64_t t(const char* iso) {
  std::string err;
  auto i = parking::parse_iso8601(iso, err);
  EXPECT_TRUE(i) << err;
  return i ? i->utc_seconds : 0;
}

ListUpdate parse(const nlohmann::json& j) {
  std::string err;
  auto u = parse_list_update(j, err);
  EXPECT_TRUE(u) << err;
  return u ? *u : ListUpdate{};
}

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto idx = empty_index();
    idx = idx->with(std::make_shared<const ListBlock>(parse(
        {{"list", "cards"},
         {"version", 1},
         {"entries",
          {{{"card", "04:a1:b2:c3"}, {"room", "1-101"}},
           {{"card", "0102030405060708090A"}, {"room", "1-102"}},
           {{"card", "DEADBEEF"}, {"room", "2-201"}}}}})));
    idx = idx->with(std::make_shared<const ListBlock>(parse(
        {{"list", "plates"},
         {"version", 1},
         {"entries", {{{"plate", "粤B·12345"}, {"room", "1-101"}, {"vehicle_class", "small"}}}}})));
    idx = idx->with(std::make_shared<const ListBlock>(parse(
        {{"list", "monthly_passes"},
         {"version", 1},
         {"entries",
          {{{"kind", "plate"}, {"value", "沪A88888"}, {"room", "3-301"},
            {"valid_from", "2026-03-01T00:00:00+08:00"},
            {"valid_to", "2026-04-01T00:00:00+08:00"}}}}})));
    idx = idx->with(std::make_shared<const ListBlock>(parse(
        {{"list", "visitor_passes"},
         {"version", 1},
         {"entries",
          {{{"id", "VP-1"}, {"kind", "plate"}, {"value", "京C55555"}, {"room", "1-101"},
            {"valid_from", "2026-03-10T08:00:00+08:00"},
            {"valid_to", "2026-03-10T20:00:00+08:00"}, {"max_uses", 2}},
           {{"id", "VP-2"}, {"kind", "qr"}, {"value", "QR-XYZ"}, {"room", "2-201"},
            {"valid_from", "2026-03-10T08:00:00+08:00"},
            {"valid_to", "2026-03-10T20:00:00+08:00"}}}}})));
    idx = idx->with(std::make_shared<const ListBlock>(
        parse({{"list", "blocklist"},
               {"version", 1},
               {"entries", {{{"kind", "card"}, {"value", "DEADBEEF"}, {"reason", "lost"}}}}})));
    index_ = idx;
    cfg_.arrears = {{1, ArrearsAction::warn}, {2, ArrearsAction::charge_as_visitor},
                    {4, ArrearsAction::deny}};
  }
  Decision decide(CredentialKind kind, const std::string& value, Lane lane = Lane::entry,
                  const char* when = "2026-03-10T12:00:00+08:00") {
    AccessRequest r{kind, value, "main", lane, t(when)};
    return evaluate(*index_, cfg_, arrears_, state_, r);
  }
  std::shared_ptr<const Index> index_;
  AccessConfig cfg_;
  FixedArrears arrears_;
  PassageState state_;
};

TEST_F(PolicyTest, ResidentCardAndPlateOpen) {
  auto d = decide(CredentialKind::card, "04A1B2C3");
  EXPECT_EQ(d.verdict, Verdict::open);
  EXPECT_EQ(d.holder, HolderType::resident);
  EXPECT_EQ(d.room, "1-101");
  EXPECT_EQ(d.reason, "resident of room 1-101");
  // A 10-byte UID goes through the hash map rather than the packed vector.
  EXPECT_EQ(decide(CredentialKind::card, "0102030405060708090A").room, "1-102");
  d = decide(CredentialKind::plate, normalize_plate("粤B 12345"));
  EXPECT_EQ(d.verdict, Verdict::open);
  EXPECT_EQ(d.vehicle_class, "small");
}

TEST_F(PolicyTest, BlocklistWinsOverTheCardList) {
  auto d = decide(CredentialKind::card, "DEADBEEF");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "blocklisted: lost");
  // Also at the exit: the guard decides.
  EXPECT_EQ(decide(CredentialKind::card, "DEADBEEF", Lane::exit).verdict, Verdict::deny);
}

TEST_F(PolicyTest, ArrearsFollowTheSitePolicyPerLevel) {
  const std::string card = "04A1B2C3";
  arrears_.levels["1-101"] = 1;
  auto d = decide(CredentialKind::card, card);
  EXPECT_EQ(d.verdict, Verdict::warn);
  EXPECT_EQ(d.arrears_level, 1);
  EXPECT_EQ(d.reason, "arrears level 1 (room 1-101): warn");
  arrears_.levels["1-101"] = 2;
  EXPECT_EQ(decide(CredentialKind::card, card).verdict, Verdict::charge_as_visitor);
  arrears_.levels["1-101"] = 3;  // not listed: takes level 2's policy
  EXPECT_EQ(decide(CredentialKind::card, card).verdict, Verdict::charge_as_visitor);
  arrears_.levels["1-101"] = 4;
  d = decide(CredentialKind::card, card);
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "arrears level 4 (room 1-101): deny");
  arrears_.levels["1-101"] = 9;
  EXPECT_EQ(decide(CredentialKind::card, card).verdict, Verdict::deny);
  // The same site configured to only warn: nothing is hard-coded.
  cfg_.arrears = {{1, ArrearsAction::warn}};
  EXPECT_EQ(decide(CredentialKind::card, card).verdict, Verdict::warn);
  cfg_.arrears.clear();  // no policy listed at all: arrears only warn
  EXPECT_EQ(decide(CredentialKind::card, card).verdict, Verdict::warn);
  arrears_.levels["1-101"] = 0;
  EXPECT_EQ(decide(CredentialKind::card, card).verdict, Verdict::open);
}

TEST_F(PolicyTest, MonthlyPassValidity) {
  auto d = decide(CredentialKind::plate, "沪A88888", Lane::entry, "2026-03-31T23:59:59+08:00");
  EXPECT_EQ(d.verdict, Verdict::open);
  EXPECT_EQ(d.holder, HolderType::monthly);
  EXPECT_EQ(d.reason, "monthly pass valid until 2026-04-01T00:00:00+08:00");
  d = decide(CredentialKind::plate, "沪A88888", Lane::entry, "2026-04-01T00:00:00+08:00");
  EXPECT_EQ(d.verdict, Verdict::charge_as_visitor);
  EXPECT_EQ(d.reason, "monthly pass expired 2026-04-01T00:00:00+08:00: visitor");
  d = decide(CredentialKind::plate, "沪A88888", Lane::entry, "2026-02-28T23:59:59+08:00");
  EXPECT_EQ(d.verdict, Verdict::charge_as_visitor);
}

TEST_F(PolicyTest, VisitorPassWindowAndUses) {
  EXPECT_EQ(decide(CredentialKind::plate, "京C55555", Lane::entry, "2026-03-10T07:59:59+08:00")
                .verdict,
            Verdict::charge_as_visitor);  // before the window: an ordinary visitor
  auto d = decide(CredentialKind::plate, "京C55555");
  EXPECT_EQ(d.verdict, Verdict::charge_as_visitor);
  EXPECT_EQ(d.holder, HolderType::visitor_pass);
  EXPECT_EQ(d.pass_id, "VP-1");
  state_.pass_uses["VP-1"] = 2;
  d = decide(CredentialKind::plate, "京C55555");
  EXPECT_EQ(d.reason, "visitor pass VP-1 used up (2 of 2): visitor");
  // A QR pass: valid -> open; outside its window -> deny (a copied screenshot of an old pass).
  EXPECT_EQ(decide(CredentialKind::qr, "QR-XYZ").verdict, Verdict::open);
  d = decide(CredentialKind::qr, "QR-XYZ", Lane::entry, "2026-03-10T20:00:00+08:00");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "visitor pass VP-2 expired 2026-03-10T20:00:00+08:00");
}

TEST_F(PolicyTest, UnknownCredentials) {
  auto d = decide(CredentialKind::plate, "苏E00001");
  EXPECT_EQ(d.verdict, Verdict::charge_as_visitor);
  EXPECT_EQ(d.holder, HolderType::visitor);
  d = decide(CredentialKind::card, "11223344");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "unknown card");
  // At the exit nobody is trapped for lack of a pass.
  d = decide(CredentialKind::card, "11223344", Lane::exit);
  EXPECT_EQ(d.verdict, Verdict::charge_as_visitor);
}

TEST_F(PolicyTest, AntiPassback) {
  cfg_.anti_passback = true;
  state_.inside.insert(presence_key(CredentialKind::card, "04A1B2C3"));
  auto d = decide(CredentialKind::card, "04A1B2C3");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "anti-passback: already inside (resident of room 1-101)");
  EXPECT_EQ(decide(CredentialKind::card, "04A1B2C3", Lane::exit).verdict, Verdict::open);
  cfg_.anti_passback = false;
  EXPECT_EQ(decide(CredentialKind::card, "04A1B2C3").verdict, Verdict::open);
}

TEST(AccessLists, NormaliseAndMask) {
  EXPECT_EQ(normalize_card("04:a1:B2-c3"), "04A1B2C3");
  EXPECT_FALSE(normalize_card("04G1"));
  EXPECT_FALSE(normalize_card(""));
  EXPECT_FALSE(normalize_card("0102030405060708090A0B"));
  EXPECT_EQ(normalize_plate("粤B·12345"), "粤B12345");
  EXPECT_EQ(normalize_plate("su e-0000 1"), "SUE00001");
  EXPECT_EQ(mask_card("04A1B2C3"), "****B2C3");
  EXPECT_EQ(mask_card("ABC"), "***");
}

TEST(AccessLists, ShownCredentialsNeverShowTheWholeValue) {
  EXPECT_EQ(shown_credential(CredentialKind::card, "04A1B2C3"), "****B2C3");
  EXPECT_EQ(shown_credential(CredentialKind::plate, "粤B12345"), "粤B***45");
  EXPECT_EQ(shown_credential(CredentialKind::plate, "京AD12345"), "京A****45");
  const std::string qr(120, 'Q');
  EXPECT_EQ(shown_credential(CredentialKind::qr, qr + "WXYZ"), "****WXYZ");
}

TEST(AccessLists, BadListsNameTheEntry) {
  std::string err;
  EXPECT_FALSE(parse_list_update({{"list", "cards"}, {"version", 2},
                                  {"entries", {{{"card", "04A1"}, {"room", "1"}},
                                               {{"card", "zz"}, {"room", "1"}}}}},
                                 err));
  EXPECT_EQ(err, "entries[1]: a card number is 1-20 hex digits");
  EXPECT_FALSE(parse_list_update({{"list", "cards"}, {"version", 0}, {"entries", nlohmann::json::array()}}, err));
  EXPECT_EQ(err, "version: expected a whole number >= 1");
  EXPECT_FALSE(parse_list_update({{"list", "tickets"}, {"version", 1}}, err));
  EXPECT_FALSE(parse_list_update(
      {{"list", "visitor_passes"}, {"version", 1},
       {"entries", {{{"id", "v"}, {"kind", "plate"}, {"value", "A1"},
                     {"valid_from", "2026-03-10T08:00:00"}, {"valid_to", "x"}}}}},
      err));
  EXPECT_NE(err.find("entries[0].valid_from: "), std::string::npos) << err;
  EXPECT_FALSE(parse_list_update({{"list", "plates"}, {"version", 1},
                                  {"entries", {{{"plate", "A1"}}}}},
                                 err));
  EXPECT_EQ(err, "entries[0].room: required");
}

TEST(AccessIndex, DuplicateCardKeepsTheLastEntry) {
  std::string err;
  auto u = parse_list_update({{"list", "cards"}, {"version", 1},
                              {"entries", {{{"card", "AB"}, {"room", "old"}},
                                           {{"card", "ab"}, {"room", "new"}}}}},
                             err);
  ASSERT_TRUE(u) << err;
  ListBlock b(*u);
  Holder h;
  ASSERT_TRUE(b.find_holder(CredentialKind::card, "AB", h));
  EXPECT_EQ(h.room, "new");
  EXPECT_EQ(b.size(), 1u);
  EXPECT_FALSE(b.find_holder(CredentialKind::card, "AC", h));
}

}  // namespace
}  // namespace estate::access
