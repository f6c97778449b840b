// DL/T 645 master operations on a Link (wake-up preamble, read by DI with follow-up frames,
// read address, relay control) and the meter driver built on them.
// Thread-safety: on the bus strand. Errors: TransportError (device_error for an abnormal
// answer, bad_answer for an answer from another address or to another DI).
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/meter/quantity.hpp"
#include "drivers/transports/link.hpp"
#include "protocols/dlt645/dlt645.hpp"

namespace estate::drivers::dlt645 {

// A data item a site may poll (options.data_items): its DI and the quantity of the vocabulary
// it is reported as. Energy totals (import 00010000 / 9010, export 00020000 / 9020), voltage,
// current and power of DL/T 645-2007 appendix A and -1997 table B.
struct DataItem {
  std::uint32_t di = 0;
  Quantity quantity = Quantity::active_energy_import;
  bool billed = false;  // the meter's billed register: import total
};
std::optional<DataItem> data_item(protocols::dlt645::Version version, std::uint32_t di);
// The DIs a site may poll, for error messages ("00010000, 00020000, ...").
std::string data_items_known(protocols::dlt645::Version version);

// Parses options.data_items: DIs separated by commas or spaces ("00010000, 02010100").
// Errors name the item and its position (1-based) in the list.
struct DataItemsError {
  std::size_t offset = 0;  // of the bad item in the text
  std::string message;
};
std::optional<DataItemsError> parse_data_items(protocols::dlt645::Version version,
                                               std::string_view text, std::vector<DataItem>& out);

// What a relay command achieved, read back from status word 3 after the meter accepted it.
struct RelayOutcome {
  std::string text;        // "relay disconnected", "close permitted; relay open until closed at the meter"
  bool confirmed = false;  // the status word shows what was asked
};

// Reads one DI; follow-up frames (D5 set) are read and their values appended.
boost::asio::awaitable<boost::system::error_code> read_di(
    Link& link, protocols::dlt645::Version version, const protocols::dlt645::Address& address,
    std::uint32_t di, protocols::dlt645::Message& out, std::vector<std::uint8_t>* raw = nullptr);
// Finds every meter on a line: a read of the energy total (00010000 / 9010) to a shortened
// address (DL/T 645-2007 §4.1.2: AA bytes stand for digits not given), starting with all AA;
// a clean answer is one meter, a garbled one several answering at once, so the next address
// byte (from A0, the least significant) is fixed to each of 00..99 and probed again. Meters
// answer with their own address. `progress` gets one line per probe and per meter found.
boost::asio::awaitable<boost::system::error_code> scan_meters(
    Link& link, protocols::dlt645::Version version, std::vector<protocols::dlt645::Address>& out,
    const std::function<void(const std::string&)>& progress);
// 0x13 to AAAAAAAAAAAA; only one meter may be on the line.
boost::asio::awaitable<boost::system::error_code> read_address(
    Link& link, protocols::dlt645::Address& out);
// Sends 1Ch with N1 = `action`, then reads status word 3 (04000503) back: not_confirmed when
// the meter accepted the command but its state does not show it (a relay that did not move).
boost::asio::awaitable<boost::system::error_code> relay(Link& link,
                                                        const protocols::dlt645::Address& address,
                                                        protocols::dlt645::RelayAction action,
                                                        const std::string& password,
                                                        const std::string& operator_code,
                                                        RelayOutcome* outcome = nullptr);

}  // namespace estate::drivers::dlt645
