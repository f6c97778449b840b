// The outbox seq high-water mark: <state_dir>/outbox-seq.highwater, one decimal number that no
// outbox seq issued on this state directory has exceeded. It lives outside the database so it
// survives a store that is lost or corrupted, and `estate-edge restore` resumes numbering above
// it, so a seq the platform has seen is never reused (docs/security.md).
// The running daemon keeps it a reservation ahead of the store's counter (SecurityComponent);
// restore raises it to the restored store's counter. Writes are atomic (temp, fsync, rename,
// fsync of the directory) and never lower the stored value.
// Thread-safety: one writer per state directory (the daemon, or restore holding the state lock).
// Errors: std::runtime_error naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace estate::backup {

std::filesystem::path highwater_file(const std::filesystem::path& state_dir);

// nullopt when there is no file; throws when it exists but is unreadable or malformed.
std::optional<std::int64_t> read_highwater(const std::filesystem::path& state_dir);

// Stores max(current, value). Returns the stored value.
std::int64_t raise_highwater(const std::filesystem::path& state_dir, std::int64_t value);

// The same for any counter kept in a file of its own (one decimal number): the payment journal
// keeps <state_dir>/payment-seq.highwater so payment ids (the terminal's reference) are never
// issued twice on one state directory, not even after a restore brought back an older store.
std::filesystem::path payment_highwater_file(const std::filesystem::path& state_dir);
std::optional<std::int64_t> read_number_file(const std::filesystem::path& file);
std::int64_t raise_number_file(const std::filesystem::path& file, std::int64_t value);

// Writes `file` atomically with `content` (mode 0600) and makes the rename durable.
void write_file_atomically(const std::filesystem::path& file, const std::string& content);

// fsync(2) of a directory, so a rename into it survives power loss.
void sync_directory(const std::filesystem::path& dir);

}  // namespace estate::backup
