// Secret key files (backup key, site privacy key): exactly 32 bytes, stored raw or as 64 hex
// digits (surrounding whitespace ignored). Make one with `head -c32 /dev/urandom > key` or
// `openssl rand -hex 32 > key`, owned by the daemon's user, mode 0600 (or 0400).
// Thread-safety: free functions, no shared state.
// Errors: KeyFileError naming the file and what is wrong (never the key's bytes).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace estate::privacy {

using Key = std::array<std::uint8_t, 32>;

class KeyFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws KeyFileError when `file` (any secret the daemon reads: these keys, the HTTPS key) is
// missing, not a regular file, or open to its group or other users (mode & 0077), naming the
// file, its mode and the fix (chmod 600).
void check_key_file_mode(const std::filesystem::path& file);

// Reads a key file. Refuses what check_key_file_mode refuses, a file of another length or
// format, and a key of all zero bytes.
Key read_key_file(const std::filesystem::path& file);

// The key in `file`, created first when it does not exist: 32 random bytes (OpenSSL
// RAND_bytes), mode 0600, written to a temporary file, synced and renamed into place, so a
// crash never leaves half a key. Used for the gateway's own privacy key in the state directory
// when the config names none. Throws KeyFileError as read_key_file does, or when it cannot be
// written.
Key load_or_create_key_file(const std::filesystem::path& file);

// A short public name for a key (first 8 bytes of HMAC-SHA256(key, purpose), hex), so a
// mismatched key can be named without revealing anything about it.
std::string key_id(const Key& key, const std::string& purpose);

}  // namespace estate::privacy
