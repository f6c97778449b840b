// Access decisions: (credential kind, value, gate, lane, time) -> open / deny /
// charge_as_visitor / warn, with a reason, from the in-memory index, the site's policy and the
// room's arrears level. Order of checks (docs/parking.md):
//   blocklist -> monthly pass -> resident card/plate (+ arrears policy) -> visitor pass ->
//   unknown (plates: charged as visitor; cards and QR codes: denied)
// then anti-passback on entry lanes. At an exit lane nobody is trapped for lack of a pass:
// unknown and expired become charge_as_visitor; the blocklist and a `deny` arrears policy still
// deny (the guard opens by hand, which is an event).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "daemon/access/access_config.hpp"
#include "daemon/access/index.hpp"

namespace estate::access {

// The arrears level of a room, from billing. Implementations must be thread-safe and must not
// block (decisions call it on the gate's path). 0 = no arrears.
class ArrearsSource {
 public:
  virtual ~ArrearsSource() = default;
  virtual int arrears_level(std::string_view room) const = 0;
};

// No billing on this site (or not wired yet): nobody is in arrears.
class NoArrears final : public ArrearsSource {
 public:
  int arrears_level(std::string_view) const override { return 0; }
};

enum class Verdict { open, deny, charge_as_visitor, warn };
enum class HolderType { resident, monthly, visitor_pass, visitor, unknown };
enum class Lane { entry, exit };

// What a plate camera's push said besides the plate (drivers/camera/plate_push.hpp), kept with
// the access event.
struct CameraRead {
  std::string camera;    // the camera's device id
  std::string model;     // its push format (required): vzenith, hikvision-isapi, generic-json, json-fields
  std::string colour;    // blue, yellow, white, black, green, yellow-green, other; "" unknown
  int confidence = -1;   // 0..100, -1 when not given
  int channel = -1;      // the camera's video channel, -1 when not given
  std::string snapshot;  // the picture's file, relative to the state dir; "" when none
};

struct AccessRequest {
  CredentialKind kind = CredentialKind::card;
  std::string value;  // normalised (normalize_card / normalize_plate)
  std::string gate;
  Lane lane = Lane::entry;
  std::int64_t time_utc = 0;
  std::optional<CameraRead> camera;  // a plate read by a camera
};

struct Decision {
  Verdict verdict = Verdict::deny;
  std::string reason;
  HolderType holder = HolderType::unknown;
  std::string room;
  std::string vehicle_class;
  int arrears_level = 0;
  std::string pass_id;  // visitor pass used
  bool lets_through() const { return verdict != Verdict::deny; }
};

// Who is inside (anti-passback) and how often each visitor pass was used.
struct PassageState {
  std::unordered_set<std::string> inside;  // presence_key(kind, presence id)
  std::unordered_map<std::string, std::int64_t> pass_uses;
};

// How the index keys a credential. The access service's index is keyed by the credential's
// keyed hash (CredentialHasher::hash).
using CredentialKeyOf = std::function<std::string(CredentialKind kind, std::string_view value)>;

// The decision itself: pure, no I/O, no locks. Thread-safe for const arguments.
// This form looks credentials up by their value as given: for an index built from clear
// lists (tests of the policy, tools).
Decision evaluate(const Index& index, const AccessConfig& cfg, const ArrearsSource& arrears,
                  const PassageState& state, const AccessRequest& req);
// The same for an index keyed by `key_of` (the access service: the keyed hash): `key` is
// key_of(req.kind, req.value), computed by the caller, and also what who is inside is keyed by;
// `key_of` is called again only for the pass id of a signed QR pass.
Decision evaluate(const Index& index, const AccessConfig& cfg, const ArrearsSource& arrears,
                  const PassageState& state, const AccessRequest& req, std::string_view key,
                  const CredentialKeyOf& key_of);

std::string_view to_string(Verdict v);
std::string_view to_string(HolderType h);
std::string_view to_string(Lane l);
std::string presence_key(CredentialKind kind, std::string_view value);
// What logs and events show of a credential: cards and QR codes "****" + their last four,
// plates masked ("粤B12345" -> "粤B***45", privacy::mask_plate). Never the whole value.
std::string shown_credential(CredentialKind kind, std::string_view value);

}  // namespace estate::access
