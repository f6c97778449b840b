// CJ/T 188 master operations on a Link (read 901F, read address, valve control with the
// answer's status checked) and the meter driver built on them.
// Thread-safety: on the bus strand. Errors: TransportError (device_error for an abnormal
// answer or a valve that did not reach the commanded state).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <utility>

#include <boost/asio/awaitable.hpp>

#include "drivers/transports/link.hpp"
#include "protocols/cjt188/cjt188.hpp"

namespace estate::drivers::cjt188 {

boost::asio::awaitable<boost::system::error_code> read_current(
    Link& link, std::uint8_t type, const protocols::cjt188::Address& address, std::uint8_t ser,
    protocols::cjt188::Message& out);
boost::asio::awaitable<boost::system::error_code> read_address(Link& link, std::uint8_t type,
                                                               protocols::cjt188::Address& out,
                                                               std::uint8_t& answered_type);
boost::asio::awaitable<boost::system::error_code> valve(Link& link, std::uint8_t type,
                                                        const protocols::cjt188::Address& address,
                                                        std::uint8_t ser,
                                                        protocols::cjt188::ValveAction action,
                                                        protocols::cjt188::Message& out);
// Finds every meter on a line as scan_meters of DL/T 645 does: read 901F to a shortened
// address (AA bytes match any digits), starting with all AA; a garbled answer is several meters
// at once, so the next address byte (from A0) is fixed to each of 00..99 and probed again.
boost::asio::awaitable<boost::system::error_code> scan_meters(
    Link& link, std::uint8_t type, std::vector<protocols::cjt188::Address>& out,
    const std::function<void(const std::string&)>& progress);
// Meter type code for a configured medium (water 10, hot_water 11, heat 20, gas 30,
// electricity 40).
std::uint8_t type_for_medium(const std::string& medium);

}  // namespace estate::drivers::cjt188
