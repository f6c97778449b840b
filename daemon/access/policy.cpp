#include "daemon/access/policy.hpp"

#include "daemon/parking/time.hpp"
#include "daemon/privacy/privacy.hpp"

namespace estate::access {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::open: return "open";
    case Verdict::deny: return "deny";
    case Verdict::charge_as_visitor: return "charge_as_visitor";
    case Verdict::warn: return "warn";
  }
  return "deny";
}

std::string_view to_string(HolderType h) {
  switch (h) {
    case HolderType::resident: return "resident";
    case HolderType::monthly: return "monthly";
    case HolderType::visitor_pass: return "visitor_pass";
    case HolderType::visitor: return "visitor";
    case HolderType::unknown: return "unknown";
  }
  return "unknown";
}

std::string_view to_string(Lane l) { return l == Lane::entry ? "entry" : "exit"; }

std::string presence_key(CredentialKind kind, std::string_view value) {
  std::string k(to_string(kind));
  k += ':';
  k += value;
  return k;
}

std::string shown_credential(CredentialKind kind, std::string_view value) {
  // Province, city code and the last two characters: enough for a guard to tell two cars apart
  // on a screen, too little to be a plate (PIPL; docs/security.md).
  if (kind == CredentialKind::plate) return privacy::mask_plate(value);
  // A QR code can be a few hundred characters (a signed pass): its last four are enough.
  if (kind == CredentialKind::qr && value.size() > 8) {
    return "****" + std::string(value.substr(value.size() - 4));
  }
  return mask_card(value);
}

namespace {

// Applies the site's arrears policy to a holder the lists let in.
void apply_arrears(const AccessConfig& cfg, const ArrearsSource& arrears, Decision& d) {
  if (d.room.empty()) return;
  d.arrears_level = arrears.arrears_level(d.room);
  const ArrearsAction a = cfg.action_for(d.arrears_level);
  if (a == ArrearsAction::none) return;
  const std::string why = "arrears level " + std::to_string(d.arrears_level) + " (room " +
                          d.room + "): " + std::string(to_string(a));
  switch (a) {
    case ArrearsAction::warn: d.verdict = Verdict::warn; break;
    case ArrearsAction::charge_as_visitor: d.verdict = Verdict::charge_as_visitor; break;
    case ArrearsAction::deny: d.verdict = Verdict::deny; break;
    case ArrearsAction::none: break;
  }
  d.reason = why;
}

// `key`: how the index keys req's credential.
Decision lists_decision(const Index& index, const AccessConfig& cfg, const ArrearsSource& arrears,
                        const PassageState& state, const AccessRequest& req,
                        std::string_view key) {
  auto local_time = [&cfg](std::int64_t utc) {
    return parking::format_iso8601(utc, cfg.utc_offset_minutes);
  };
  Decision d;
  if (const ListEntry* b = index.blocklist->find_entry(req.kind, key)) {
    d.verdict = Verdict::deny;
    d.reason = "blocklisted" + (b->note.empty() ? std::string() : ": " + b->note);
    return d;
  }
  std::string expired_pass;
  if (const ListEntry* m = index.monthly_passes->find_entry(req.kind, key)) {
    if (req.time_utc >= m->valid_from && req.time_utc < m->valid_to) {
      d.verdict = Verdict::open;
      d.holder = HolderType::monthly;
      d.room = m->room;
      d.vehicle_class = m->vehicle_class;
      d.reason = "monthly pass valid until " + local_time(m->valid_to);
      apply_arrears(cfg, arrears, d);
      return d;
    }
    expired_pass = req.time_utc < m->valid_from ? "monthly pass not valid before " +
                                                      local_time(m->valid_from)
                                                : "monthly pass expired " +
                                                      local_time(m->valid_to);
  }
  Holder h;
  const ListBlock& residents =
      req.kind == CredentialKind::plate ? *index.plates : *index.cards;
  if (req.kind != CredentialKind::qr && residents.find_holder(req.kind, key, h)) {
    d.verdict = Verdict::open;
    d.holder = HolderType::resident;
    d.room = std::string(h.room);
    d.vehicle_class = std::string(h.vehicle_class);
    d.reason = "resident of room " + d.room;
    apply_arrears(cfg, arrears, d);
    return d;
  }
  if (const ListEntry* v = index.visitor_passes->find_entry(req.kind, key)) {
    d.holder = HolderType::visitor_pass;
    d.pass_id = v->pass_id;
    d.room = v->room;
    d.verdict = Verdict::deny;
    auto used = state.pass_uses.find(v->pass_id);
    const std::int64_t uses = used == state.pass_uses.end() ? 0 : used->second;
    if (req.time_utc < v->valid_from) {
      d.reason = "visitor pass " + v->pass_id + " not valid before " + local_time(v->valid_from);
    } else if (req.time_utc >= v->valid_to) {
      d.reason = "visitor pass " + v->pass_id + " expired " + local_time(v->valid_to);
    } else if (req.lane == Lane::entry && v->max_uses > 0 && uses >= v->max_uses) {
      d.reason = "visitor pass " + v->pass_id + " used up (" + std::to_string(uses) + " of " +
                 std::to_string(v->max_uses) + ")";
    } else {
      // A visitor pass lets the visitor in; parking is still charged by the visitor rule.
      d.verdict = req.kind == CredentialKind::plate ? Verdict::charge_as_visitor : Verdict::open;
      d.reason = "visitor pass " + v->pass_id + " (host room " + v->room + ")";
      return d;
    }
    // A plate whose pass is not valid now is an ordinary visitor; a QR code is nothing else.
    if (req.kind == CredentialKind::plate && !cfg.deny_unknown_plates) {
      d.verdict = Verdict::charge_as_visitor;
      d.reason += ": visitor";
    }
    return d;
  }
  if (req.kind == CredentialKind::plate) {
    // unknown_plates: deny makes a residents-only barrier; at an exit the plate still leaves as a
    // visitor (evaluate()).
    d.verdict = cfg.deny_unknown_plates ? Verdict::deny : Verdict::charge_as_visitor;
    d.holder = HolderType::visitor;
    const std::string what = cfg.deny_unknown_plates ? "visitors not admitted" : "visitor";
    d.reason = expired_pass.empty() ? "unknown plate: " + what : expired_pass + ": " + what;
    return d;
  }
  d.verdict = Verdict::deny;
  d.reason = expired_pass.empty()
                 ? (req.kind == CredentialKind::card ? "unknown card" : "unknown QR code")
                 : expired_pass;
  return d;
}

}  // namespace

namespace {

// A signed QR pass: checked offline against the platform's key, then decided as the pass id.
// A pass the lists know follows the list (the platform may have revoked or shortened it); one
// issued after the last sync is admitted by its own signed window and uses.
Decision signed_pass_decision(const Index& index, const AccessConfig& cfg,
                              const PassageState& state, const AccessRequest& req,
                              const CredentialKeyOf& key_of) {
  Decision d;
  d.verdict = Verdict::deny;
  if (!cfg.qr_passes) {
    d.reason = "signed QR pass, but access.qr_pass_public_key is not configured";
    return d;
  }
  const PassResult r = cfg.qr_passes->verify(req.value, cfg.site_id, req.time_utc,
                                                cfg.utc_offset_minutes);
  if (r.status != PassCheck::ok) {
    d.reason = r.reason;
    if (!r.pass.pass_id.empty()) {
      d.holder = HolderType::visitor_pass;
      d.pass_id = r.pass.pass_id;
    }
    return d;
  }
  // The lists name a signed pass by its pass id (as a QR code).
  const std::string id_key = key_of(CredentialKind::qr, r.pass.pass_id);
  if (const ListEntry* b = index.blocklist->find_entry(CredentialKind::qr, id_key)) {
    d.reason = "blocklisted" + (b->note.empty() ? std::string() : ": " + b->note);
    return d;
  }
  if (index.visitor_passes->find_entry(CredentialKind::qr, id_key)) {
    AccessRequest by_id = req;
    by_id.value = r.pass.pass_id;
    return lists_decision(index, cfg, NoArrears{}, state, by_id, id_key);
  }
  d.holder = HolderType::visitor_pass;
  d.pass_id = r.pass.pass_id;
  d.room = r.pass.room;
  auto used = state.pass_uses.find(r.pass.pass_id);
  const std::int64_t uses = used == state.pass_uses.end() ? 0 : used->second;
  if (req.lane == Lane::entry && r.pass.max_uses > 0 && uses >= r.pass.max_uses) {
    d.reason = r.reason + " used up (" + std::to_string(uses) + " of " +
               std::to_string(r.pass.max_uses) + ")";
    return d;
  }
  d.verdict = Verdict::open;
  d.reason = r.reason + " (host room " + (r.pass.room.empty() ? "-" : r.pass.room) + ")";
  return d;
}

}  // namespace

Decision evaluate(const Index& index, const AccessConfig& cfg, const ArrearsSource& arrears,
                  const PassageState& state, const AccessRequest& req) {
  static const CredentialKeyOf as_given = [](CredentialKind, std::string_view v) {
    return std::string(v);
  };
  return evaluate(index, cfg, arrears, state, req, req.value, as_given);
}

Decision evaluate(const Index& index, const AccessConfig& cfg, const ArrearsSource& arrears,
                  const PassageState& state, const AccessRequest& req, std::string_view key,
                  const CredentialKeyOf& key_of) {
  const std::string_view presence_id = key;
  Decision d = req.kind == CredentialKind::qr && is_signed_pass(req.value)
                   ? signed_pass_decision(index, cfg, state, req, key_of)
                   : lists_decision(index, cfg, arrears, state, req, key);
  if (req.lane == Lane::exit) {
    const bool hard_deny = d.reason.rfind("blocklisted", 0) == 0 ||
                           (d.arrears_level > 0 && d.verdict == Verdict::deny);
    if (!d.lets_through() && !hard_deny) {
      d.verdict = Verdict::charge_as_visitor;
      d.reason += "; leaving as a visitor";
    }
    return d;
  }
  if (cfg.anti_passback && d.lets_through() &&
      state.inside.count(presence_key(req.kind, presence_id)) > 0) {
    d.verdict = Verdict::deny;
    d.reason = "anti-passback: already inside (" + d.reason + ")";
  }
  return d;
}

}  // namespace estate::access
