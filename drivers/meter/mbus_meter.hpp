// M-Bus master operations on a Link (EN 13757-2/-3): SND_NKE, REQ_UD2 with FCB toggling and
// multi-telegram reads, selection by secondary address, the primary scan (0..250) and the
// secondary scan with wildcards and collision handling; and the meter driver built on them.
// Thread-safety: on the bus strand. Errors: TransportError (a collision shows as frame_error
// or checksum_error).
#pragma once

#include <utility>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "drivers/meter/quantity.hpp"
#include "drivers/meter/reading.hpp"
#include "drivers/transports/link.hpp"
#include "protocols/mbus/application.hpp"
#include "protocols/mbus/link.hpp"

namespace estate::drivers::mbus {

// SND_NKE to `address`; the slave must answer E5.
boost::asio::awaitable<boost::system::error_code> snd_nke(Link& link, std::uint8_t address);

// REQ_UD2 until the slave says no more records follow (DIF 1F), at most `max_telegrams`.
// `fcb` is the frame count bit of the next request; it toggles after each answered request and
// is repeated on a retry (EN 13757-2 §5.5). Each answer frame is appended to `frames`.
boost::asio::awaitable<boost::system::error_code> read_data(
    Link& link, std::uint8_t address, bool& fcb, std::vector<std::vector<std::uint8_t>>& frames,
    int max_telegrams = 8);

// Selects a slave by secondary address (answer E5); then address FD reads it.
boost::asio::awaitable<boost::system::error_code> select(
    Link& link, const protocols::mbus::SecondaryAddress& address);

struct Found {
  int primary = -1;                 // primary scan: the address that answered
  std::string secondary;            // 16 hex digits IIIIIIIIMMMMVVTT, when known
  std::string manufacturer;
  std::uint8_t medium = 0;
  std::uint8_t version = 0;
};
using Progress = std::function<void(const std::string&)>;

// Primary scan: SND_NKE to each address in [first, last], then REQ_UD2 to those that answered.
boost::asio::awaitable<boost::system::error_code> scan_primary(Link& link, int first, int last,
                                                               std::vector<Found>& out,
                                                               const Progress& progress);
// Secondary scan: narrows wildcard masks digit by digit where answers collide.
boost::asio::awaitable<boost::system::error_code> scan_secondary(Link& link,
                                                                 std::vector<Found>& out,
                                                                 const Progress& progress);

std::string secondary_text(const protocols::mbus::Header& h);

// A real record's value (type H, IEEE 754 single) times 10^exponent, exact: the shortest
// decimal that reads back as `f` (230.1f is "230.1"); nullopt for NaN, infinity or a value with
// more digits than a 64-bit mantissa holds.
std::optional<Decimal> float_decimal(float f, int exponent);

// The vocabulary's quantity a record of a meter of `medium` (configured; "" for the telegram's
// `mbus_medium`) is published as, or nullopt when it is not a reading: instantaneous values
// (current, storage 0, or stored, storage N), not manufacturer specific. A tariff register of
// active energy has an entry of its own (drivers/meter/quantity.hpp: tariff_register); any other
// record of a tariff or a subunit is published under its base quantity and marked with its
// number (RecordPlace).
std::optional<Quantity> record_quantity(const protocols::mbus::Record& rec, std::string_view medium,
                                        std::uint8_t mbus_medium);

// Where a record sits besides its quantity: the numbers the reading carries ("storage",
// "tariff", "subunit"); a tariff folded into the quantity (active_energy_import_t1) is 0 here.
struct RecordPlace {
  std::uint32_t storage = 0;
  std::uint32_t tariff = 0;
  std::uint32_t subunit = 0;
  bool current() const { return storage == 0 && tariff == 0 && subunit == 0; }
};
RecordPlace record_place(const protocols::mbus::Record& rec, Quantity published,
                         std::string_view medium, std::uint8_t mbus_medium);

}  // namespace estate::drivers::mbus
