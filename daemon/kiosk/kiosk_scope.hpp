// What a kiosk token may see (docs/security.md, "Kiosk scope"): a kiosk in a lobby is used by
// anyone passing, and its token sits in that browser, so it reads only what the sale in
// progress needs.
//   - A room look-up opens a sale: an opaque, unguessable handle bound to the kiosk's token and
//     the room, valid kiosk_sale_ttl. A kiosk pays only with such a handle (never by naming a
//     room), and looks rooms up at most kiosk_lookups_per_minute times a minute, so it cannot
//     walk the site's rooms.
//   - It reads (and reprints) only payments its own token started in the last
//     kiosk_payment_window; any other payment id answers 404 as if it did not exist.
// Technician and admin tokens are not limited by any of this.
// Thread-safety: all members may be called from any thread.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace estate::kiosk {

inline constexpr std::chrono::seconds kiosk_sale_ttl{600};
inline constexpr std::chrono::seconds kiosk_payment_window{1800};
inline constexpr int kiosk_lookups_per_minute = 20;
inline constexpr std::size_t kiosk_max_open_sales = 256;

// "" when `key` is a good Idempotency-Key (1 to 64 of [A-Za-z0-9._:-]); else what is wrong.
std::string check_idempotency_key(const std::string& key);

class KioskScope {
 public:
  using Clock = std::chrono::steady_clock;

  // Counts one room look-up by `token`; false when it made kiosk_lookups_per_minute already in
  // the last minute (the look-up is refused and not counted).
  bool allow_lookup(const std::string& token, Clock::time_point now = Clock::now());
  // A new sale handle (32 lower-case hex digits, 128 random bits) for `room`, bound to `token`.
  std::string open_sale(const std::string& token, const std::string& room,
                        Clock::time_point now = Clock::now());
  // The room of `handle` when `token` opened it and it has not expired.
  std::optional<std::string> sale_room(const std::string& token, const std::string& handle,
                                       Clock::time_point now = Clock::now());

 private:
  struct Sale {
    std::string token, room;
    Clock::time_point expires;
  };
  std::mutex mutex_;
  std::map<std::string, Sale> sales_;
  std::map<std::string, std::deque<Clock::time_point>> lookups_;
};

}  // namespace estate::kiosk
