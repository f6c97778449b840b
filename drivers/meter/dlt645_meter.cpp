#include "drivers/meter/dlt645_meter.hpp"

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <span>
#include <stdexcept>

#include "drivers/meter/address_walk.hpp"
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

namespace {

// One probe of a shortened address: the answering meter's own address, timeout when nobody
// answers, frame_error/checksum_error when answers collided.
asio::awaitable<error_code> probe(Link& link, p::Version version, const p::Address& pattern,
                                  p::Address& who) {
  const std::uint32_t di = version == p::Version::v2007 ? 0x00010000u : 0x9010u;
  auto request = p::encode_read(version, pattern, di);
  std::vector<std::uint8_t> answer;
  if (auto ec = co_await link.transact(request, dlt645_scanner(), answer)) co_return ec;
  auto m = p::decode(answer);
  if (!m) co_return make_error_code(TransportError::frame_error);
  if (!m->frame.is_response()) co_return make_error_code(TransportError::bad_answer);
  if (!fits_pattern(pattern, m->frame.address)) co_return make_error_code(TransportError::frame_error);
  who = m->frame.address;  // an abnormal answer ("no such data") still names a meter
  co_return error_code{};
}

}  // namespace

asio::awaitable<error_code> scan_meters(Link& link, p::Version version, std::vector<p::Address>& out,
                                        const std::function<void(const std::string&)>& progress) {
  AddressProbe<6> one = [&link, version](const p::Address& pattern, p::Address& who) {
    return probe(link, version, pattern, who);
  };
  co_return co_await walk_addresses(one, &p::format_address, p::kWildcardAddress, 0, out, progress);
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
                                  const std::string& password, const std::string& operator_code,
                                  RelayOutcome* outcome) {
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
  if (auto ec = check_answer(*m, address, p::control::kRelayControl)) co_return ec;
  // The answer 9Ch says the command was accepted, not what the relay did: read status word 3.
  p::Message st;
  RelayOutcome out;
  if (auto ec = co_await read_di(link, p::Version::v2007, address, p::kStatusWord3, st)) {
    out.text = "accepted; status word 3 unread: " + ec.message();
    if (outcome) *outcome = out;
    co_return make_error_code(TransportError::not_confirmed);
  }
  auto word = p::status_word(st);
  if (!word) {
    out.text = "accepted; status word 3 unreadable";
    if (outcome) *outcome = out;
    co_return make_error_code(TransportError::not_confirmed);
  }
  const auto s = p::relay_status(*word);
  switch (action) {
    case p::RelayAction::trip:
      // Supply is off only when the relay is open; a relay still closed (a trip delay, or a
      // relay that did not move) is not confirmed, and is said so.
      out.confirmed = s.disconnected;
      out.text = s.disconnected ? "relay disconnected"
                 : s.trip_commanded ? "trip commanded; relay still connected"
                                    : "relay connected; trip not taken";
      break;
    case p::RelayAction::direct_close:
      out.confirmed = !s.disconnected && !s.trip_commanded;
      out.text = s.disconnected ? "relay still disconnected" : "relay connected";
      break;
    case p::RelayAction::close_permitted:
      out.confirmed = !s.trip_commanded;
      out.text = !s.disconnected ? "relay connected"
                 : s.trip_commanded ? "relay disconnected; close not taken"
                                    : "close permitted; relay open until closed at the meter";
      break;
    default:
      out.confirmed = true;
      out.text = "accepted";
      break;
  }
  if (outcome) *outcome = out;
  co_return out.confirmed ? error_code{} : make_error_code(TransportError::not_confirmed);
}

namespace {

struct ItemRow {
  std::uint32_t di;
  Quantity quantity;
  bool billed;
};
// DL/T 645-2007 appendix A (energy DI3 00, variables DI3 02).
constexpr ItemRow kItems2007[] = {
    {0x00010000, Quantity::active_energy_import, true},
    {0x00020000, Quantity::active_energy_export, false},
    // DI1 = tariff 1..4 (尖 峰 平 谷 on most Chinese sites' time-of-use tables)
    {0x00010100, Quantity::active_energy_import_t1, false},
    {0x00010200, Quantity::active_energy_import_t2, false},
    {0x00010300, Quantity::active_energy_import_t3, false},
    {0x00010400, Quantity::active_energy_import_t4, false},
    {0x00020100, Quantity::active_energy_export_t1, false},
    {0x00020200, Quantity::active_energy_export_t2, false},
    {0x00020300, Quantity::active_energy_export_t3, false},
    {0x00020400, Quantity::active_energy_export_t4, false},
    {0x00030000, Quantity::reactive_energy_import, false},
    {0x00040000, Quantity::reactive_energy_export, false},
    {0x02010100, Quantity::voltage_l1, false},
    {0x02010200, Quantity::voltage_l2, false},
    {0x02010300, Quantity::voltage_l3, false},
    {0x02020100, Quantity::current_l1, false},
    {0x02020200, Quantity::current_l2, false},
    {0x02020300, Quantity::current_l3, false},
    {0x02800001, Quantity::current_n, false},
    {0x02030000, Quantity::active_power, false},
    {0x02030100, Quantity::active_power_l1, false},
    {0x02030200, Quantity::active_power_l2, false},
    {0x02030300, Quantity::active_power_l3, false},
    {0x02040000, Quantity::reactive_power, false},
    {0x02050000, Quantity::apparent_power, false},
    {0x02060000, Quantity::power_factor, false},
    {0x02800002, Quantity::frequency, false},
};
// DL/T 645-1997 (energy 90xx, variables B6xx).
constexpr ItemRow kItems1997[] = {
    {0x9010, Quantity::active_energy_import, true},
    {0x9020, Quantity::active_energy_export, false},
    {0x9011, Quantity::active_energy_import_t1, false},
    {0x9012, Quantity::active_energy_import_t2, false},
    {0x9013, Quantity::active_energy_import_t3, false},
    {0x9014, Quantity::active_energy_import_t4, false},
    {0x9021, Quantity::active_energy_export_t1, false},
    {0x9022, Quantity::active_energy_export_t2, false},
    {0x9023, Quantity::active_energy_export_t3, false},
    {0x9024, Quantity::active_energy_export_t4, false},
    {0xB611, Quantity::voltage_l1, false},
    {0xB612, Quantity::voltage_l2, false},
    {0xB613, Quantity::voltage_l3, false},
    {0xB621, Quantity::current_l1, false},
    {0xB622, Quantity::current_l2, false},
    {0xB623, Quantity::current_l3, false},
    {0xB630, Quantity::active_power, false},
    {0xB631, Quantity::active_power_l1, false},
    {0xB632, Quantity::active_power_l2, false},
    {0xB633, Quantity::active_power_l3, false},
    {0xB640, Quantity::reactive_power, false},
    {0xB650, Quantity::power_factor, false},
};

std::span<const ItemRow> items_of(p::Version v) {
  if (v == p::Version::v1997) return kItems1997;
  return kItems2007;
}

}  // namespace

std::optional<DataItem> data_item(p::Version version, std::uint32_t di) {
  for (const auto& r : items_of(version)) {
    if (r.di == di) return DataItem{r.di, r.quantity, r.billed};
  }
  return std::nullopt;
}

std::string data_items_known(p::Version version) {
  std::string out;
  for (const auto& r : items_of(version)) out += (out.empty() ? "" : ", ") + p::format_di(version, r.di);
  return out;
}

std::optional<DataItemsError> parse_data_items(p::Version version, std::string_view text,
                                               std::vector<DataItem>& out) {
  out.clear();
  const std::size_t digits = version == p::Version::v2007 ? 8 : 4;
  std::size_t i = 0;
  int n = 0;
  while (i < text.size()) {
    if (text[i] == ',' || text[i] == ' ') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && text[i] != ',' && text[i] != ' ') ++i;
    const auto item = text.substr(start, i - start);
    ++n;
    auto bytes = protocols::parse_hex(item);
    const std::string where = "item " + std::to_string(n) + " '" + std::string(item) + "'";
    if (item.size() != digits || !bytes) {
      return DataItemsError{start, where + ": a DL/T 645-" + std::string(p::to_string(version)) +
                                       " data identifier is " + std::to_string(digits) + " hex digits"};
    }
    std::uint32_t di = 0;
    for (auto b : *bytes) di = (di << 8) | b;
    auto found = data_item(version, di);
    if (!found) {
      return DataItemsError{start, where + " is not a data item this gateway polls (known: " +
                                       data_items_known(version) + ")"};
    }
    for (const auto& o : out) {
      if (o.di == di) return DataItemsError{start, where + " is listed twice"};
    }
    out.push_back(*found);
  }
  if (out.empty()) return DataItemsError{0, "the list is empty"};
  return std::nullopt;
}

}  // namespace dlt645

namespace {

class Dlt645Meter final : public MeterDriver {
 public:
  Dlt645Meter(const DeviceConfig& d, BusPort& port) : id_(d.id), link_(*port.link) {
    address_ = configured_address(d.id, d.address, 12, "DL/T 645",
                                  [](std::string_view a) { return p::parse_address(a); });
    if (auto it = d.extra.find("version"); it != d.extra.end() && it->second == "1997") {
      version_ = p::Version::v1997;
    }
    if (auto it = d.extra.find("password"); it != d.extra.end()) password_ = it->second;
    if (auto it = d.extra.find("operator"); it != d.extra.end()) operator_ = it->second;
    if (auto it = d.extra.find("relay_close"); it != d.extra.end()) direct_close_ = it->second == "direct";
    // Forward active energy total (00010000 / 9010) unless the site lists its data items.
    const std::string list = d.extra.contains("data_items") ? d.extra.at("data_items")
                             : version_ == p::Version::v2007 ? "00010000" : "9010";
    if (auto err = dlt645::parse_data_items(version_, list, items_)) {
      throw std::invalid_argument("device " + d.id + ": options.data_items: " + err->message);
    }
  }

  asio::awaitable<error_code> poll(std::vector<Reading>& out) override {
    for (const auto& item : items_) {
      p::Message m;
      auto ec = co_await dlt645::read_di(link_, version_, address_, item.di, m);
      // A meter without the item ("no such data") loses that item, not the poll; the billed
      // register and a meter that does not answer fail the poll.
      if (ec == TransportError::device_error && !item.billed) continue;
      if (ec) co_return ec;
      if (m.values.empty() || m.length_mismatch) co_return make_error_code(TransportError::bad_answer);
      const auto& v = m.values.front();
      Reading r;
      r.meter = id_;
      set_quantity(r, item.quantity, item.billed);
      r.unit = m.info ? m.info->unit : "kWh";
      r.timestamp = std::chrono::system_clock::now();
      // The BCD digits with the table's decimals give the exact value (a signed value's top bit
      // is its sign: the codec's number carries it).
      auto digits = parse_decimal(v.raw);
      if (digits && m.info && !m.info->is_signed) {
        r.value = Decimal{digits->mantissa, -static_cast<int>(m.info->decimals)};
      } else if (v.number) {
        r.value = decimal_from_double(*v.number, m.info ? m.info->decimals : 4);
      } else {
        r.quality = Quality::device_error;  // the meter sent non-BCD digits: "no value"
      }
      out.push_back(std::move(r));
    }
    co_return error_code{};
  }

  asio::awaitable<error_code> command(MeterCommand c) override {
    if (c != MeterCommand::relay_trip && c != MeterCommand::relay_close) {
      co_return make_error_code(TransportError::unsupported);
    }
    if (version_ == p::Version::v1997) co_return make_error_code(TransportError::unsupported);
    const auto action = c == MeterCommand::relay_trip ? p::RelayAction::trip
                        : direct_close_                ? p::RelayAction::direct_close
                                                       : p::RelayAction::close_permitted;
    dlt645::RelayOutcome outcome;
    auto ec = co_await dlt645::relay(link_, address_, action, password_, operator_, &outcome);
    outcome_ = outcome.text;
    co_return ec;
  }

  std::string last_outcome() const override { return outcome_; }

 private:
  std::string id_;
  Link& link_;
  p::Address address_{};
  p::Version version_ = p::Version::v2007;
  std::string password_ = "000000";
  std::string operator_ = "00000000";
  bool direct_close_ = false;  // options.relay_close: direct (1Ch) or permitted (1Bh, default)
  std::vector<dlt645::DataItem> items_;
  std::string outcome_;
};

}  // namespace

std::unique_ptr<MeterDriver> make_dlt645_driver(const DeviceConfig& d, BusPort& port) {
  if (!port.link) throw std::invalid_argument("device " + d.id + ": DL/T 645 needs a byte link");
  return std::make_unique<Dlt645Meter>(d, port);
}

}  // namespace estate::drivers
