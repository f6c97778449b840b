#pragma once
// The address walk DL/T 645 and CJ/T 188 share to find every meter on a line. Both let a
// request carry a shortened address (AA bytes match any digits): starting from all AA, a clean
// answer is one meter, a garbled one (frame or checksum error) several answering at once, so the
// next address byte (from A0, the least significant) is fixed to each of 00..99 and probed again.
// Meters answer with their own address.

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/transports/errors.hpp"

namespace estate::drivers {

template <std::size_t N>
using MeterAddress = std::array<std::uint8_t, N>;

// A device's configured meter address: exactly `digits` decimal digits that the protocol's
// `parse` accepts; otherwise invalid_argument naming the device and the protocol.
template <class Parse>
auto configured_address(const std::string& device, const std::string& address,
                        std::size_t digits, std::string_view protocol, Parse parse) {
  auto a = parse(address);
  if (!a || address.size() != digits) {
    throw std::invalid_argument("device " + device + ": address '" + address + "' is not a " +
                                std::to_string(digits) + "-digit " + std::string(protocol) +
                                " meter address");
  }
  return *a;
}

// One probe of a shortened address: sets `who` to the answering meter's own address; timeout
// when nobody answers, frame_error/checksum_error when answers collided.
template <std::size_t N>
using AddressProbe = std::function<boost::asio::awaitable<boost::system::error_code>(
    const MeterAddress<N>& pattern, MeterAddress<N>& who)>;

// An answer from an address outside the pattern is two answers run together.
template <std::size_t N>
bool fits_pattern(const MeterAddress<N>& pattern, const MeterAddress<N>& address) {
  for (std::size_t i = 0; i < N; ++i) {
    if (pattern[i] != 0xAA && pattern[i] != address[i]) return false;
  }
  return true;
}

template <std::size_t N>
boost::asio::awaitable<boost::system::error_code> walk_addresses(
    const AddressProbe<N>& probe, std::string (*format)(const MeterAddress<N>&),
    MeterAddress<N> pattern, std::size_t level, std::vector<MeterAddress<N>>& out,
    const std::function<void(const std::string&)>& progress) {
  if (progress) progress("probing " + format(pattern));
  MeterAddress<N> who{};
  auto ec = co_await probe(pattern, who);
  if (ec == TransportError::timeout) co_return boost::system::error_code{};
  if (!ec) {
    if (std::find(out.begin(), out.end(), who) == out.end()) {
      out.push_back(who);
      if (progress) progress("found " + format(who));
    }
    co_return boost::system::error_code{};
  }
  if (ec != TransportError::frame_error && ec != TransportError::checksum_error) co_return ec;
  if (level >= N) {
    if (progress) progress("several meters answer to " + format(pattern) + " (same address?)");
    co_return boost::system::error_code{};
  }
  for (int b = 0; b <= 99; ++b) {
    pattern[level] = static_cast<std::uint8_t>((b / 10) << 4 | (b % 10));
    if (auto e = co_await walk_addresses(probe, format, pattern, level + 1, out, progress)) {
      co_return e;
    }
  }
  co_return boost::system::error_code{};
}

}  // namespace estate::drivers
