#include "drivers/meter/mbus_meter.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>
#include <map>
#include <stdexcept>

#include "drivers/meter/meter_driver.hpp"

namespace estate::drivers {

namespace asio = boost::asio;
namespace p = protocols::mbus;
using boost::system::error_code;

namespace mbus {

std::optional<Quantity> record_quantity(const p::Record& rec, std::string_view medium,
                                        std::uint8_t mbus_medium) {
  // Maximum, minimum and error values are not the register. Stored values (storage != 0),
  // other tariffs and subunits (another device in the meter: a pulse input, a second circuit)
  // are kept: the driver marks them.
  constexpr auto max = std::numeric_limits<std::uint32_t>::max();
  if (rec.function != p::Function::instantaneous || rec.manufacturer_specific ||
      rec.storage > max || rec.tariff > max || rec.subunit > max) {
    return std::nullopt;
  }
  if (auto q = mbus_quantity(rec.quantity, rec.unit, medium, mbus_medium,
                             static_cast<int>(rec.tariff))) {
    return q;  // tariff 0, or a tariff register with an entry of its own
  }
  return rec.tariff != 0 ? mbus_quantity(rec.quantity, rec.unit, medium, mbus_medium)
                         : std::nullopt;
}

RecordPlace record_place(const p::Record& rec, Quantity published, std::string_view medium,
                         std::uint8_t mbus_medium) {
  RecordPlace place;
  place.storage = static_cast<std::uint32_t>(rec.storage);
  place.subunit = static_cast<std::uint32_t>(rec.subunit);
  // A tariff published under the base quantity is marked; one with its own entry is not.
  if (rec.tariff != 0 && mbus_quantity(rec.quantity, rec.unit, medium, mbus_medium) == published) {
    place.tariff = static_cast<std::uint32_t>(rec.tariff);
  }
  return place;
}

std::optional<Decimal> float_decimal(float f, int exponent) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed);
  if (ec != std::errc{}) return std::nullopt;
  auto d = parse_decimal(std::string_view(buf, static_cast<std::size_t>(end - buf)));
  if (!d) return std::nullopt;  // NaN, infinity, or more digits than a mantissa holds
  d->exponent += exponent;
  return d;
}

std::string secondary_text(const p::Header& h) {
  // IIIIIIII MMMM VV TT as libmbus and the meters' labels print it; the identification
  // number is BCD, so its digits are the text.
  std::string id = h.id;
  if (id.size() < 8) id.insert(0, 8 - id.size(), '0');
  char rest[16];
  std::snprintf(rest, sizeof rest, "%04X%02X%02X", h.manufacturer_code, h.version, h.medium);
  return id + rest;
}

asio::awaitable<error_code> snd_nke(Link& link, std::uint8_t address) {
  auto request = p::encode_snd_nke(address);
  std::vector<std::uint8_t> answer;
  if (auto ec = co_await link.transact(request, mbus_scanner(), answer)) co_return ec;
  if (answer.size() != 1 || answer[0] != p::kAck) co_return make_error_code(TransportError::bad_answer);
  co_return error_code{};
}

asio::awaitable<error_code> read_data(Link& link, std::uint8_t address, bool& fcb,
                                      std::vector<std::vector<std::uint8_t>>& frames,
                                      int max_telegrams) {
  frames.clear();
  std::vector<std::uint8_t> answer;
  for (int i = 0; i < max_telegrams; ++i) {
    auto request = p::encode_req_ud2(address, fcb);
    error_code ec = co_await link.transact(request, mbus_scanner(), answer);
    if (ec == TransportError::timeout) {
      // One repeat with the same FCB: the slave re-sends its last answer (EN 13757-2 §5.5).
      ec = co_await link.transact(request, mbus_scanner(), answer);
    }
    if (ec) co_return ec;
    fcb = !fcb;
    auto frame = p::parse_frame(answer);
    if (!frame) co_return make_error_code(TransportError::frame_error);
    if (frame->kind != p::FrameKind::long_ || (frame->control & 0x0F) != p::kControlRspUd) {
      co_return make_error_code(TransportError::bad_answer);
    }
    if (address != p::kAddressNetworkLayer && address != p::kAddressBroadcastReply &&
        frame->address != address) {
      co_return make_error_code(TransportError::bad_answer);
    }
    frames.push_back(answer);
    auto t = p::decode_application(frame->ci, frame->data, frame->data_offset);
    if (!t) co_return make_error_code(TransportError::frame_error);
    if (!t->more_records_follow) co_return error_code{};
  }
  co_return error_code{};
}

asio::awaitable<error_code> select(Link& link, const p::SecondaryAddress& address) {
  auto request = p::encode_select_secondary(address);
  std::vector<std::uint8_t> answer;
  if (auto ec = co_await link.transact(request, mbus_scanner(), answer)) co_return ec;
  if (answer.size() != 1 || answer[0] != p::kAck) co_return make_error_code(TransportError::frame_error);
  co_return error_code{};
}

namespace {
Found found_from(const std::vector<std::uint8_t>& frame_bytes, int primary) {
  Found f;
  f.primary = primary;
  auto t = p::decode_rsp_ud(frame_bytes);
  if (t && t->header.has_identity) {
    f.secondary = secondary_text(t->header);
    f.manufacturer = t->header.manufacturer;
    f.medium = t->header.medium;
    f.version = t->header.version;
  }
  return f;
}

bool collided(const error_code& ec) {
  return ec == TransportError::frame_error || ec == TransportError::checksum_error ||
         ec == TransportError::bad_answer;
}

asio::awaitable<error_code> scan_level(Link& link, std::array<std::uint8_t, 8> digits, int pos,
                                       std::vector<Found>& out, const Progress& progress) {
  for (std::uint8_t d = 0; d <= 9; ++d) {
    digits[static_cast<std::size_t>(pos)] = d;
    p::SecondaryAddress mask;
    mask.id_digits = digits;
    std::string text;
    for (auto x : digits) text += x == 0xF ? 'F' : static_cast<char>('0' + x);
    if (progress) progress("probing " + text);
    error_code ec = co_await select(link, mask);
    if (ec == TransportError::timeout) continue;  // nobody matches this mask
    if (ec && !collided(ec)) co_return ec;
    bool collision = static_cast<bool>(ec);
    if (!collision) {
      // One clean E5 may still be several slaves answering in step: read to be sure.
      bool fcb = false;
      std::vector<std::vector<std::uint8_t>> frames;
      ec = co_await read_data(link, p::kAddressNetworkLayer, fcb, frames, 1);
      if (!ec && !frames.empty()) {
        out.push_back(found_from(frames.front(), -1));
        if (progress) progress("found " + out.back().secondary);
        continue;
      }
      if (ec && !collided(ec)) co_return ec;
      collision = true;
    }
    if (collision && pos < 7) {
      if (auto e = co_await scan_level(link, digits, pos + 1, out, progress)) co_return e;
    }
  }
  co_return error_code{};
}
}  // namespace

asio::awaitable<error_code> scan_primary(Link& link, int first, int last, std::vector<Found>& out,
                                         const Progress& progress) {
  for (int a = first; a <= last; ++a) {
    if (progress) progress("probing primary address " + std::to_string(a));
    auto ec = co_await snd_nke(link, static_cast<std::uint8_t>(a));
    if (ec == TransportError::timeout) continue;
    if (ec == TransportError::not_connected || ec == TransportError::closed) co_return ec;
    if (ec) {
      // Garbage or two slaves on one address: still worth reporting what it says.
      if (progress) progress("address " + std::to_string(a) + ": " + ec.message());
    }
    bool fcb = false;
    std::vector<std::vector<std::uint8_t>> frames;
    auto rec = co_await read_data(link, static_cast<std::uint8_t>(a), fcb, frames, 1);
    if (rec || frames.empty()) {
      if (!ec) {
        Found f;
        f.primary = a;
        out.push_back(f);
      }
      continue;
    }
    out.push_back(found_from(frames.front(), a));
    if (progress) progress("found address " + std::to_string(a));
  }
  co_return error_code{};
}

asio::awaitable<error_code> scan_secondary(Link& link, std::vector<Found>& out,
                                           const Progress& progress) {
  // Every slave forgets an earlier selection after SND_NKE to the network layer address.
  std::vector<std::uint8_t> ignored;
  (void)co_await snd_nke(link, p::kAddressNetworkLayer);
  std::array<std::uint8_t, 8> digits;
  digits.fill(0xF);
  co_return co_await scan_level(link, digits, 0, out, progress);
}

}  // namespace mbus

namespace {

class MbusMeter final : public MeterDriver {
 public:
  MbusMeter(const DeviceConfig& d, BusPort& port)
      : id_(d.id), medium_(d.medium), billed_(billed_quantity(d.medium)), link_(*port.link) {
    const auto& a = d.address;
    bool digits = !a.empty() && a.find_first_not_of("0123456789") == std::string::npos;
    if (digits && a.size() <= 3) {
      int v = std::stoi(a);
      if (v > 250) {
        throw std::invalid_argument("device " + d.id + ": M-Bus primary address " + a +
                                    " is out of range 0..250");
      }
      primary_ = static_cast<std::uint8_t>(v);
    } else {
      auto s = p::parse_secondary_address(a.size() == 8 ? a + "FFFFFFFF" : a);
      if (!s) {
        throw std::invalid_argument("device " + d.id + ": address '" + a +
                                    "' is neither a primary address (0..250) nor a secondary "
                                    "address (8 digits or 16 hex digits): " +
                                    s.error().describe());
      }
      secondary_ = *s;
    }
  }

  asio::awaitable<error_code> poll(std::vector<Reading>& out) override {
    std::uint8_t address = primary_;
    if (secondary_) {
      if (auto ec = co_await mbus::select(link_, *secondary_)) co_return ec;
      address = p::kAddressNetworkLayer;
    } else if (!initialised_) {
      // Reset the slave's FCB state once, so our first FCB is the one it expects.
      if (auto ec = co_await mbus::snd_nke(link_, address)) co_return ec;
      initialised_ = true;
      fcb_ = true;
    }
    std::vector<std::vector<std::uint8_t>> frames;
    if (auto ec = co_await mbus::read_data(link_, address, fcb_, frames)) {
      if (ec == TransportError::timeout) initialised_ = false;
      co_return ec;
    }
    const auto now = std::chrono::system_clock::now();
    const std::size_t first = out.size();  // poll() appends: earlier readings are not ours
    std::vector<p::Telegram> telegrams;
    for (const auto& f : frames) {
      auto t = p::decode_rsp_ud(f);
      if (!t) co_return make_error_code(TransportError::frame_error);
      telegrams.push_back(std::move(*t));
    }
    // The meter's own clock, per storage number: its current time (storage 0) and the date of
    // each stored value (e.g. the due date), as the meter sent them (no time zone).
    std::map<std::uint64_t, std::string> meter_times;
    for (const auto& t : telegrams) {
      for (const auto& rec : t.records) {
        const auto* dt = std::get_if<p::DateTime>(&rec.raw);
        if (dt && rec.quantity == "time_point" && rec.subunit == 0 && !dt->invalid &&
            rec.function == p::Function::instantaneous && dt->has_date) {
          meter_times.emplace(rec.storage, dt->iso8601());
        }
      }
    }
    for (const auto& t : telegrams) {
      const bool error_state = (t.header.status & 0x18) != 0;  // permanent/temporary error
      for (const auto& rec : t.records) {
        if (!rec.value) continue;
        const auto q = mbus::record_quantity(rec, medium_, t.header.medium);
        if (!q) continue;
        Reading r;
        r.meter = id_;
        // A stored value, another tariff's or another subunit's register is for the platform:
        // never step-validated, never billed.
        const auto place = mbus::record_place(rec, *q, medium_, t.header.medium);
        set_quantity(r, *q, place.current() && q == billed_);
        if (!place.current()) {
          r.storage = place.storage;
          r.tariff = place.tariff;
          r.subunit = place.subunit;
          r.cumulative = false;
        }
        if (auto it = meter_times.find(rec.storage); it != meter_times.end()) {
          r.meter_time = it->second;
        }
        r.unit = std::string(normalise_unit(rec.unit));
        r.timestamp = now;
        // Integers with a decimal exponent are exact, and so is a real (type H, IEEE 754
        // single) as the shortest decimal that reads back as the same float (230.1f is 230.1,
        // not 230.100006); anything else (a factor that is not a power of ten, an offset) goes
        // through the double.
        const auto* real = std::get_if<double>(&rec.raw);
        std::optional<Decimal> real_value;
        if (real && rec.factor == 1.0 && rec.additive == 0.0) {
          real_value = mbus::float_decimal(static_cast<float>(*real), rec.exponent);
        }
        if (real_value) {
          r.value = *real_value;
        } else if (rec.factor == 1.0 && rec.additive == 0.0 &&
                   std::holds_alternative<std::int64_t>(rec.raw)) {
          r.value = Decimal{std::get<std::int64_t>(rec.raw), rec.exponent};
        } else if (rec.factor == 1.0 && rec.additive == 0.0 &&
                   std::holds_alternative<std::uint64_t>(rec.raw) &&
                   std::get<std::uint64_t>(rec.raw) < (1ULL << 62)) {
          r.value = Decimal{static_cast<std::int64_t>(std::get<std::uint64_t>(rec.raw)), rec.exponent};
        } else {
          r.value = decimal_from_double(*rec.value, 6);
        }
        if (error_state) r.quality = Quality::device_error;
        // The same quantity at the same place twice (e.g. two volume records): keep the first.
        bool dup = false;
        for (std::size_t i = first; i < out.size(); ++i) {
          dup = dup || (out[i].quantity == r.quantity && out[i].storage == r.storage &&
                        out[i].tariff == r.tariff && out[i].subunit == r.subunit);
        }
        if (!dup) out.push_back(std::move(r));
      }
    }
    co_return error_code{};
  }

 private:
  std::string id_;
  std::string medium_;
  std::optional<Quantity> billed_;
  Link& link_;
  std::uint8_t primary_ = 0;
  std::optional<p::SecondaryAddress> secondary_;
  bool initialised_ = false;
  bool fcb_ = true;
};

}  // namespace

std::unique_ptr<MeterDriver> make_mbus_driver(const DeviceConfig& d, BusPort& port) {
  if (!port.link) throw std::invalid_argument("device " + d.id + ": M-Bus needs a byte link");
  return std::make_unique<MbusMeter>(d, port);
}

}  // namespace estate::drivers
