#include "drivers/meter/dlt645_meter.hpp"

#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <ctime>
#include <stdexcept>

#include "drivers/meter/meter_driver.hpp"

namespace estate::drivers {

namespace asio = boost::asio;
namespace p = protocols::dlt645;
using boost::system::error_code;

namespace dlt645 {

namespace {
error_code check_answer(const p::Message& m, const p::Address& address, std::uint8_t function) {
  if (!m.frame.is_response()) return TransportError::bad_answer;
  if (m.frame.address != address && address != p::kWildcardAddress) return TransportError::bad_answer;
  if (m.frame.is_abnormal()) return TransportError::device_error;
  if (m.frame.function() != function) return TransportError::bad_answer;
  return {};
}
}  // namespace

asio::awaitable<error_code> read_di(Link& link, p::Version version, const p::Address& address,
                                    std::uint32_t di, p::Message& out,
                                    std::vector<std::uint8_t>* raw) {
  auto request = p::encode_read(version, address, di);
  std::vector<std::uint8_t> answer;
  if (auto ec = co_await link.transact(request, dlt645_scanner(), answer)) co_return ec;
  auto m = p::decode(answer);
  if (!m) co_return make_error_code(TransportError::frame_error);
  const std::uint8_t fn = version == p::Version::v2007 ? p::control::kRead : p::control::kRead1997;
  if (auto ec = check_answer(*m, address, fn)) co_return ec;
  if (m->di && *m->di != di) co_return make_error_code(TransportError::bad_answer);
  if (raw) *raw = answer;
  out = std::move(*m);
  // Follow-up frames (DL/T 645-2007 §7.2.3): 0x12 with the next sequence number.
  std::uint8_t seq = 1;
  while (out.frame.has_follow_up() && seq < 16) {
    auto more = p::encode_read_follow_up(version, address, di, seq);
    if (auto ec = co_await link.transact(more, dlt645_scanner(), answer)) co_return ec;
    auto f = p::decode(answer);
    if (!f) co_return make_error_code(TransportError::frame_error);
    const std::uint8_t ffn =
        version == p::Version::v2007 ? p::control::kReadFollowUp : p::control::kReadFollowUp1997;
    if (auto ec = check_answer(*f, address, ffn)) co_return ec;
    out.values.insert(out.values.end(), f->values.begin(), f->values.end());
    out.frame.control = f->frame.control;
    ++seq;
  }
  co_return error_code{};
}

asio::awaitable<error_code> read_address(Link& link, p::Address& out) {
  auto request = p::encode_read_address();
  std::vector<std::uint8_t> answer;
  if (auto ec = co_await link.transact(request, dlt645_scanner(), answer)) co_return ec;
  auto m = p::decode(answer);
  if (!m) co_return make_error_code(TransportError::frame_error);
  if (auto ec = check_answer(*m, p::kWildcardAddress, p::control::kReadAddress)) co_return ec;
  out = m->meter_address ? *m->meter_address : m->frame.address;
  co_return error_code{};
}

asio::awaitable<error_code> relay(Link& link, const p::Address& address, p::RelayAction action,
                                  const std::string& password, const std::string& operator_code) {
  p::RelayCommand cmd;
  cmd.action = action;
  cmd.password = password;
  cmd.operator_code = operator_code;
  // The command carries its own expiry; give the meter ten minutes of validity.
  const std::time_t t = std::time(nullptr) + 600;
  std::tm tm{};
  localtime_r(&t, &tm);
  cmd.valid_until = p::DateTime{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour,        tm.tm_min,     tm.tm_sec};
  auto request = p::encode_relay_control(address, cmd);
  if (!request) co_return make_error_code(TransportError::unsupported);
  std::vector<std::uint8_t> answer;
  // The relay must move before the meter answers: allow longer than a read.
  auto timeout = link.options().answer_timeout * 4;
  if (auto ec = co_await link.transact(*request, dlt645_scanner(), answer, timeout)) co_return ec;
  auto m = p::decode(answer);
  if (!m) co_return make_error_code(TransportError::frame_error);
  co_return check_answer(*m, address, p::control::kRelayControl);
}

}  // namespace dlt645

namespace {

class Dlt645Meter final : public MeterDriver {
 public:
  Dlt645Meter(const DeviceConfig& d, BusPort& port) : id_(d.id), link_(*port.link) {
    auto a = p::parse_address(d.address);
    if (!a || d.address.size() != 12) {
      throw std::invalid_argument("device " + d.id + ": address '" + d.address +
                                  "' is not a 12-digit DL/T 645 meter address");
    }
    address_ = *a;
    if (auto it = d.extra.find("version"); it != d.extra.end() && it->second == "1997") {
      version_ = p::Version::v1997;
    }
    if (auto it = d.extra.find("password"); it != d.extra.end()) password_ = it->second;
    if (auto it = d.extra.find("operator"); it != d.extra.end()) operator_ = it->second;
  }

  asio::awaitable<error_code> poll(std::vector<Reading>& out) override {
    // Forward active energy, total: 00010000 (2007) / 9010 (1997).
    const std::uint32_t di = version_ == p::Version::v2007 ? 0x00010000u : 0x9010u;
    p::Message m;
    if (auto ec = co_await dlt645::read_di(link_, version_, address_, di, m)) co_return ec;
    if (m.values.empty() || m.length_mismatch) co_return make_error_code(TransportError::bad_answer);
    const auto& v = m.values.front();
    Reading r;
    r.meter = id_;
    set_quantity(r, Quantity::active_energy_import, true);  // the meter's billed register
    r.unit = m.info ? m.info->unit : "kWh";
    r.timestamp = std::chrono::system_clock::now();
    // The BCD digits with the table's decimals give the exact value.
    auto digits = parse_decimal(v.raw);
    if (digits && m.info) {
      r.value = Decimal{digits->mantissa, -static_cast<int>(m.info->decimals)};
    } else if (v.number) {
      r.value = decimal_from_double(*v.number);
    } else {
      r.quality = Quality::device_error;  // the meter sent non-BCD digits: "no value"
    }
    out.push_back(std::move(r));
    co_return error_code{};
  }

  asio::awaitable<error_code> command(MeterCommand c) override {
    if (c != MeterCommand::relay_trip && c != MeterCommand::relay_close) {
      co_return make_error_code(TransportError::unsupported);
    }
    co_return co_await dlt645::relay(
        link_, address_, c == MeterCommand::relay_trip ? p::RelayAction::trip : p::RelayAction::close,
        password_, operator_);
  }

 private:
  std::string id_;
  Link& link_;
  p::Address address_{};
  p::Version version_ = p::Version::v2007;
  std::string password_ = "000000";
  std::string operator_ = "00000000";
};

}  // namespace

std::unique_ptr<MeterDriver> make_dlt645_driver(const DeviceConfig& d, BusPort& port) {
  if (!port.link) throw std::invalid_argument("device " + d.id + ": DL/T 645 needs a byte link");
  return std::make_unique<Dlt645Meter>(d, port);
}

}  // namespace estate::drivers
