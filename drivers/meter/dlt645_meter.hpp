// DL/T 645 master operations on a Link (wake-up preamble, read by DI with follow-up frames,
// read address, relay control) and the meter driver built on them.
// Thread-safety: on the bus strand. Errors: TransportError (device_error for an abnormal
// answer, bad_answer for an answer from another address or to another DI).
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>

#include "drivers/transports/link.hpp"
#include "protocols/dlt645/dlt645.hpp"

namespace estate::drivers::dlt645 {

// Reads one DI; follow-up frames (D5 set) are read and their values appended.
boost::asio::awaitable<boost::system::error_code> read_di(
    Link& link, protocols::dlt645::Version version, const protocols::dlt645::Address& address,
    std::uint32_t di, protocols::dlt645::Message& out, std::vector<std::uint8_t>* raw = nullptr);
// 0x13 to AAAAAAAAAAAA; only one meter may be on the line.
boost::asio::awaitable<boost::system::error_code> read_address(
    Link& link, protocols::dlt645::Address& out);
boost::asio::awaitable<boost::system::error_code> relay(Link& link,
                                                        const protocols::dlt645::Address& address,
                                                        protocols::dlt645::RelayAction action,
                                                        const std::string& password,
                                                        const std::string& operator_code);

}  // namespace estate::drivers::dlt645
