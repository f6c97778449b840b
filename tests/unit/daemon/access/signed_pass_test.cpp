// Signed QR visitor passes: verified offline against the platform's Ed25519 key; an expired,
// edited, foreign or unsigned pass fails; a pass issued after the last list sync opens by its
// own window and uses; a pass the lists know follows the list; the blocklist wins.
#include <gtest/gtest.h>

#include "daemon/access/credential_hash.hpp"
#include "daemon/access/policy.hpp"
#include "daemon/access/signed_pass.hpp"
#include "daemon/parking/time.hpp"

namespace estate::access {
namespace {

// RFC 8032 §7.1 test 1: the secret key and its public key.
constexpr const char* kSecret = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr const char* kOtherSecret =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

std::int64_t t(const char* iso) {
  std::string err;
  auto i = parking::parse_iso8601(iso, err);
  EXPECT_TRUE(i) << err;
  return i ? i->utc_seconds : 0;
}

SignedPass pass(const char* id = "V-7", std::int64_t uses = 2) {
  return SignedPass{id, "sunrise", t("2026-03-10T08:00:00+08:00"),
                    t("2026-03-10T20:00:00+08:00"), uses, "3-1-402"};
}

class SignedPassTest : public ::testing::Test {
 protected:
  SignedPassTest() {
    std::string err;
    cfg_.qr_passes = PassVerifier::from_hex(kPublic, err);
    cfg_.site_id = "sunrise";
    EXPECT_TRUE(cfg_.qr_passes) << err;
    index_ = empty_index();
  }
  Decision decide(const std::string& qr, const char* when = "2026-03-10T12:00:00+08:00",
                  Lane lane = Lane::entry) {
    return evaluate(*index_, cfg_, NoArrears{}, state_, {CredentialKind::qr, qr, "door", lane, t(when)});
  }
  AccessConfig cfg_;
  std::shared_ptr<const Index> index_;
  PassageState state_;
};

TEST(SignedPassKeys, PublicKeyOfTheRfcSecret) {
  EXPECT_EQ(public_key_of(kSecret), kPublic);
  std::string err;
  EXPECT_FALSE(PassVerifier::from_hex("d75a98", err));
  EXPECT_EQ(err, "expected the platform's Ed25519 public key as 64 hex digits");
  EXPECT_THROW(sign_pass(pass(), "zz"), std::invalid_argument);
}

TEST_F(SignedPassTest, AValidPassOpensAndIsCountedAgainstItsUses) {
  const std::string qr = sign_pass(pass(), kSecret);
  EXPECT_TRUE(is_signed_pass(qr));
  auto d = decide(qr);
  EXPECT_EQ(d.verdict, Verdict::open) << d.reason;
  EXPECT_EQ(d.holder, HolderType::visitor_pass);
  EXPECT_EQ(d.pass_id, "V-7");
  EXPECT_EQ(d.room, "3-1-402");
  EXPECT_EQ(d.reason, "signed pass V-7 (host room 3-1-402)");
  state_.pass_uses["V-7"] = 2;
  d = decide(qr);
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "signed pass V-7 used up (2 of 2)");
}

TEST_F(SignedPassTest, ExpiredNotYetValidForeignAndForgedPassesFail) {
  const std::string qr = sign_pass(pass(), kSecret);
  // A screenshot kept until the next day.
  auto d = decide(qr, "2026-03-10T20:00:00+08:00");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "signed pass V-7 expired 2026-03-10T20:00:00+08:00");
  d = decide(qr, "2026-03-10T07:59:59+08:00");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_NE(d.reason.find("not valid before"), std::string::npos);
  // Another site's pass.
  auto other = pass();
  other.site = "riverside";
  d = decide(sign_pass(other, kSecret));
  EXPECT_EQ(d.reason, "signed pass V-7 is for site 'riverside'");
  // Signed by someone else, or with its dates edited after signing.
  d = decide(sign_pass(pass(), kOtherSecret));
  EXPECT_EQ(d.reason, "signed pass: the signature does not match");
  auto later = pass();
  later.valid_to += 86400;
  const std::string forged_payload = sign_pass(later, kOtherSecret);
  const std::string genuine = sign_pass(pass(), kSecret);
  const std::string spliced = forged_payload.substr(0, forged_payload.rfind('.')) +
                              genuine.substr(genuine.rfind('.'));
  d = decide(spliced, "2026-03-11T12:00:00+08:00");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "signed pass: the signature does not match");
  // One character of the signature changed.
  std::string flipped = qr;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(decide(flipped).verdict, Verdict::deny);
  // Not base64url at all.
  EXPECT_EQ(decide("EEP1.@@@.###").reason,
            "signed pass: not base64url, or a signature of the wrong size");
  EXPECT_EQ(decide("EEP1.").reason, "signed pass: no signature");
}

TEST_F(SignedPassTest, WithoutAKeySignedPassesAreRefused) {
  cfg_.qr_passes = nullptr;
  auto d = decide(sign_pass(pass(), kSecret));
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "signed QR pass, but access.qr_pass_public_key is not configured");
}

// The platform's visitor pass V-7 (a QR pass for 3-1-402, 08:00-10:00 on 10 March).
nlohmann::json visitor_pass_v7() {
  return {{"list", "visitor_passes"},
          {"version", 1},
          {"entries",
           {{{"id", "V-7"}, {"kind", "qr"}, {"value", "V-7"}, {"room", "3-1-402"},
             {"valid_from", "2026-03-10T08:00:00+08:00"},
             {"valid_to", "2026-03-10T10:00:00+08:00"}}}}};
}

TEST_F(SignedPassTest, TheListsWinForAPassTheyKnowAndTheBlocklistForAny) {
  std::string err;
  auto vp = parse_list_update(visitor_pass_v7(), err);
  ASSERT_TRUE(vp) << err;
  index_ = index_->with(std::make_shared<const ListBlock>(*vp));
  // The platform shortened the pass to 10:00 in its list: the list decides.
  auto d = decide(sign_pass(pass(), kSecret), "2026-03-10T12:00:00+08:00");
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_NE(d.reason.find("visitor pass V-7 expired"), std::string::npos) << d.reason;
  auto bl = parse_list_update({{"list", "blocklist"},
                               {"version", 1},
                               {"entries", {{{"kind", "qr"}, {"value", "V-8"}, {"reason", "revoked"}}}}},
                              err);
  ASSERT_TRUE(bl) << err;
  index_ = index_->with(std::make_shared<const ListBlock>(*bl));
  d = decide(sign_pass(pass("V-8"), kSecret));
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_EQ(d.reason, "blocklisted: revoked");
}

TEST_F(SignedPassTest, TheListsWinAlsoWhenTheyAreKeptAsKeyedHashes) {
  // As the access service keeps them: the pass id hashed as a QR code, looked up by its hash.
  privacy::Key key{};
  key.fill(7);
  CredentialHasher hasher(key);
  const CredentialKeyOf key_of = [&](CredentialKind k, std::string_view v) {
    return hasher.hash(k, v);
  };
  std::string err;
  auto vp = parse_list_update(visitor_pass_v7(), err);
  auto bl = parse_list_update({{"list", "blocklist"},
                               {"version", 1},
                               {"entries", {{{"kind", "qr"}, {"value", "V-8"}, {"reason", "revoked"}}}}},
                              err);
  ASSERT_TRUE(vp && bl) << err;
  hasher.protect(*vp);
  hasher.protect(*bl);
  EXPECT_EQ(vp->entries[0].shown, "V-7");
  index_ = index_->with(std::make_shared<const ListBlock>(*vp))
               ->with(std::make_shared<const ListBlock>(*bl));
  auto hashed = [&](const std::string& qr) {
    AccessRequest r{CredentialKind::qr, qr, "door", Lane::entry, t("2026-03-10T12:00:00+08:00")};
    return evaluate(*index_, cfg_, NoArrears{}, state_, r, hasher.hash(CredentialKind::qr, qr),
                    key_of);
  };
  auto d = hashed(sign_pass(pass(), kSecret));
  EXPECT_EQ(d.verdict, Verdict::deny);
  EXPECT_NE(d.reason.find("visitor pass V-7 expired"), std::string::npos) << d.reason;
  EXPECT_EQ(hashed(sign_pass(pass("V-8"), kSecret)).reason, "blocklisted: revoked");
  EXPECT_EQ(hashed(sign_pass(pass("V-9"), kSecret)).verdict, Verdict::open);  // after the sync
}

}  // namespace
}  // namespace estate::access
