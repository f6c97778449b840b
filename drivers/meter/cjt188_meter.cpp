#include "drivers/meter/cjt188_meter.hpp"

#include <algorithm>

#include <chrono>
#include <stdexcept>

#include "drivers/meter/address_walk.hpp"
#include "drivers/meter/meter_driver.hpp"

namespace estate::drivers {

namespace asio = boost::asio;
namespace p = protocols::cjt188;
using boost::system::error_code;

namespace cjt188 {

std::uint8_t type_for_medium(const std::string& medium) {
  if (medium == "hot_water") return p::meter_type::kHotWater;
  if (medium == "heat") return p::meter_type::kHeat;
  if (medium == "gas") return p::meter_type::kGas;
  if (medium == "electricity") return p::meter_type::kElectricity;
  return p::meter_type::kColdWater;
}

namespace {
error_code check(const p::Message& m, const p::Address& address, std::uint8_t function) {
  if (!m.frame.is_response()) return TransportError::bad_answer;
  if (address != p::kWildcardAddress && m.frame.address != address) return TransportError::bad_answer;
  if (m.frame.is_abnormal() || m.kind == p::Message::Kind::error_response) {
    return TransportError::device_error;
  }
  if (m.frame.function() != function) return TransportError::bad_answer;
  return {};
}
}  // namespace

asio::awaitable<error_code> read_current(Link& link, std::uint8_t type, const p::Address& address,
                                         std::uint8_t ser, p::Message& out) {
  auto request = p::encode_read(type, address, ser);
  std::vector<std::uint8_t> answer;
  if (auto ec = co_await link.transact(request, cjt188_scanner(), answer)) co_return ec;
  auto m = p::decode(answer);
  if (!m) co_return make_error_code(TransportError::frame_error);
  if (auto ec = check(*m, address, p::control::kReadData)) co_return ec;
  if (m->di != p::di::kCurrentData) co_return make_error_code(TransportError::bad_answer);
  out = std::move(*m);
  co_return error_code{};
}

namespace {

asio::awaitable<error_code> probe(Link& link, std::uint8_t type, const p::Address& pattern,
                                  p::Address& who) {
  auto request = p::encode_read(type, pattern, 0);
  std::vector<std::uint8_t> answer;
  if (auto ec = co_await link.transact(request, cjt188_scanner(), answer)) co_return ec;
  auto m = p::decode(answer);
  if (!m) co_return make_error_code(TransportError::frame_error);
  if (!fits_pattern(pattern, m->frame.address)) co_return make_error_code(TransportError::frame_error);
  who = m->frame.address;
  co_return error_code{};
}

}  // namespace

asio::awaitable<error_code> scan_meters(Link& link, std::uint8_t type, std::vector<p::Address>& out,
                                        const std::function<void(const std::string&)>& progress) {
  AddressProbe<7> one = [&link, type](const p::Address& pattern, p::Address& who) {
    return probe(link, type, pattern, who);
  };
  co_return co_await walk_addresses(one, &p::format_address, p::kWildcardAddress, 0, out, progress);
}

asio::awaitable<error_code> read_address(Link& link, std::uint8_t type, p::Address& out,
                                         std::uint8_t& answered_type) {
  auto request = p::encode_read_address(type, 0);
  std::vector<std::uint8_t> answer;
  if (auto ec = co_await link.transact(request, cjt188_scanner(), answer)) co_return ec;
  auto m = p::decode(answer);
  if (!m) co_return make_error_code(TransportError::frame_error);
  if (auto ec = check(*m, p::kWildcardAddress, p::control::kReadAddress)) co_return ec;
  out = m->frame.address;
  answered_type = m->frame.type;
  co_return error_code{};
}

asio::awaitable<error_code> valve(Link& link, std::uint8_t type, const p::Address& address,
                                  std::uint8_t ser, p::ValveAction action, p::Message& out) {
  auto request = p::encode_valve_control(type, address, ser, action);
  std::vector<std::uint8_t> answer;
  // A valve answers once it has moved: allow several read timeouts.
  auto timeout = link.options().answer_timeout * 6;
  if (auto ec = co_await link.transact(request, cjt188_scanner(), answer, timeout)) co_return ec;
  auto m = p::decode(answer);
  if (!m) co_return make_error_code(TransportError::frame_error);
  if (auto ec = check(*m, address, p::control::kWriteData)) co_return ec;
  if (m->kind != p::Message::Kind::valve_response || !m->status) {
    co_return make_error_code(TransportError::bad_answer);
  }
  // The answer's status word must show the valve where we sent it (CJ/T 188-2004 table 10).
  const auto want = action == p::ValveAction::open ? p::Status::Valve::open : p::Status::Valve::closed;
  out = std::move(*m);
  if (out.status->valve() != want) co_return make_error_code(TransportError::device_error);
  co_return error_code{};
}

}  // namespace cjt188

namespace {

class Cjt188Meter final : public MeterDriver {
 public:
  Cjt188Meter(const DeviceConfig& d, BusPort& port) : id_(d.id), link_(*port.link) {
    address_ = configured_address(d.id, d.address, 14, "CJ/T 188",
                                  [](std::string_view a) { return p::parse_address(a); });
    type_ = cjt188::type_for_medium(d.medium);
  }

  asio::awaitable<error_code> poll(std::vector<Reading>& out) override {
    p::Message m;
    if (auto ec = co_await cjt188::read_current(link_, type_, address_, ser_++, m)) co_return ec;
    if (m.quantities.empty()) co_return make_error_code(TransportError::bad_answer);
    const auto now = std::chrono::system_clock::now();
    const auto& q = m.quantities.front();  // current cumulative flow (or heat)
    Reading r;
    r.meter = id_;
    set_quantity(r, p::is_heat_type(type_) ? Quantity::heat_energy : Quantity::volume, true);
    r.unit = std::string(normalise_unit(q.unit));
    r.timestamp = now;
    if (auto digits = parse_decimal(q.raw); q.number && q.exponent && digits) {
      r.value = Decimal{digits->mantissa, *q.exponent};  // the meter's digits, exactly
    } else if (q.number) {
      r.value = decimal_from_double(*q.number);
    } else {
      r.quality = Quality::device_error;  // FF FF FF FF: the meter has no value
    }
    if (m.status && m.status->valve() == p::Status::Valve::abnormal) r.quality = Quality::device_error;
    out.push_back(std::move(r));
    if (m.status) {
      Reading v;
      v.meter = id_;
      set_quantity(v, Quantity::valve_state, false);
      v.unit = "";
      v.value = Decimal{m.status->valve() == p::Status::Valve::open ? 1 : 0, 0};
      v.timestamp = now;
      out.push_back(std::move(v));
    }
    co_return error_code{};
  }

  asio::awaitable<error_code> command(MeterCommand c) override {
    if (c != MeterCommand::valve_open && c != MeterCommand::valve_close) {
      co_return make_error_code(TransportError::unsupported);
    }
    p::Message m;
    co_return co_await cjt188::valve(
        link_, type_, address_, ser_++,
        c == MeterCommand::valve_open ? p::ValveAction::open : p::ValveAction::close, m);
  }

 private:
  std::string id_;
  Link& link_;
  p::Address address_{};
  std::uint8_t type_ = p::meter_type::kColdWater;
  std::uint8_t ser_ = 0;
};

}  // namespace

std::unique_ptr<MeterDriver> make_cjt188_driver(const DeviceConfig& d, BusPort& port) {
  if (!port.link) throw std::invalid_argument("device " + d.id + ": CJ/T 188 needs a byte link");
  return std::make_unique<Cjt188Meter>(d, port);
}

}  // namespace estate::drivers
