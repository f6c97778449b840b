#include "daemon/kiosk/kiosk_scope.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace estate::kiosk {

std::string check_idempotency_key(const std::string& key) {
  if (key.empty()) {
    return "Idempotency-Key: a header naming this sale is required (the same key for a repeat "
           "of the same request, e.g. a double tap)";
  }
  if (key.size() > 64) return "Idempotency-Key: at most 64 characters";
  for (char c : key) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return "Idempotency-Key: only [A-Za-z0-9._:-]";
  }
  return "";
}

bool KioskScope::allow_lookup(const std::string& token, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& times = lookups_[token];
  while (!times.empty() && now - times.front() >= std::chrono::minutes(1)) times.pop_front();
  if (times.size() >= static_cast<std::size_t>(kiosk_lookups_per_minute)) return false;
  times.push_back(now);
  return true;
}

std::string KioskScope::open_sale(const std::string& token, const std::string& room,
                                  Clock::time_point now) {
  std::array<unsigned char, 16> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed: no randomness for a sale handle");
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string handle;
  for (auto b : raw) {
    handle += digits[b >> 4];
    handle += digits[b & 15];
  }
  std::lock_guard lock(mutex_);
  for (auto it = sales_.begin(); it != sales_.end();) {
    it = it->second.expires <= now ? sales_.erase(it) : std::next(it);
  }
  while (sales_.size() >= kiosk_max_open_sales) {
    auto oldest = sales_.begin();
    for (auto it = sales_.begin(); it != sales_.end(); ++it) {
      if (it->second.expires < oldest->second.expires) oldest = it;
    }
    sales_.erase(oldest);
  }
  sales_[handle] = Sale{token, room, now + kiosk_sale_ttl};
  return handle;
}

std::optional<std::string> KioskScope::sale_room(const std::string& token,
                                                 const std::string& handle,
                                                 Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = sales_.find(handle);
  if (it == sales_.end() || it->second.token != token || it->second.expires <= now) {
    return std::nullopt;
  }
  return it->second.room;
}

}  // namespace estate::kiosk
