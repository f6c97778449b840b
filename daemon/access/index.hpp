// The in-memory index of the access lists: an immutable snapshot, built from SQLite at start and
// from each applied list, swapped in whole so a decision never waits for a list update and
// never sees half a list. Each list is its own shared block, so replacing the plate list does
// not copy a million cards.
// Thread-safety: an Index is immutable; share it through std::shared_ptr<const Index>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/access/lists.hpp"

namespace estate::access {

// Who a credential belongs to. Strings are interned per list block.
struct Holder {
  std::string_view room;
  std::string_view vehicle_class;
};

// One list, indexed by each entry's `value`: in the gateway, the credential's keyed hash
// (CredentialHasher), so the index holds no card UID, plate or QR code. In the cards and plates
// lists, a value that is a keyed hash is packed as its first 128 bits (two 64-bit words) in a
// sorted vector (24 bytes an entry with room and class), found through a table of where each
// 16-bit prefix starts (256 KiB) and a binary search within it; every other value
// goes into a hash map keyed by "<kind>:<value>". Look entries up by the same form they were
// built from (the request's hash in the gateway; clear values in tests of the policy).
class ListBlock {
 public:
  explicit ListBlock(const ListUpdate& update);
  ListBlock(const ListBlock&) = delete;  // string views point into this block
  ListBlock& operator=(const ListBlock&) = delete;
  ListName list() const { return list_; }
  std::int64_t version() const { return version_; }
  std::size_t size() const { return size_; }
  const ListEntry* find_entry(CredentialKind kind, std::string_view value) const;
  // Cards and plates: room and class, without materialising a ListEntry.
  bool find_holder(CredentialKind kind, std::string_view value, Holder& out) const;
  // The entries packed by hash (cards and plates lists); the rest are in the map.
  std::size_t packed() const { return packed_.size(); }

 private:
  struct PackedKey {
    std::uint64_t hi, lo;  // the hash's first 128 bits
    bool operator<(const PackedKey& o) const { return hi != o.hi ? hi < o.hi : lo < o.lo; }
    bool operator==(const PackedKey& o) const { return hi == o.hi && lo == o.lo; }
  };
  struct Packed {
    PackedKey key;
    std::uint32_t room;
    std::uint32_t vehicle_class;
  };
  static bool pack(std::string_view hash, PackedKey& key);
  std::uint32_t intern(const std::string& s);

  ListName list_;
  std::int64_t version_ = 0;
  std::size_t size_ = 0;
  std::vector<std::string> strings_;  // interned rooms and classes
  std::unordered_map<std::string_view, std::uint32_t> string_ids_;
  bool holders_ = false;              // the cards or plates list
  std::vector<Packed> packed_;        // sorted by key; cards and plates lists only
  std::vector<std::uint32_t> starts_; // 65537 entries: where each top-16-bit prefix begins
  std::unordered_map<std::string, ListEntry> entries_;  // everything else
};

struct Index {
  std::shared_ptr<const ListBlock> cards, plates, monthly_passes, visitor_passes, blocklist;
  const std::shared_ptr<const ListBlock>& block(ListName l) const;
  // A copy of this index with one list replaced.
  std::shared_ptr<const Index> with(std::shared_ptr<const ListBlock> block) const;
};

// Builds the whole index from the store (start-up).
std::shared_ptr<const Index> load_index(store::Database& db);
std::shared_ptr<const Index> empty_index();

}  // namespace estate::access
