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

// One list, indexed. Card numbers of up to 16 hex digits are packed into 64-bit keys in a
// sorted vector (16 bytes an entry, binary search); longer ones and every other credential
// go into a hash map keyed by "<kind>:<value>".
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

 private:
  struct PackedCard {
    std::uint64_t key;
    std::uint32_t room;
    std::uint32_t vehicle_class;
  };
  static bool pack(std::string_view card, std::uint64_t& key);
  std::uint32_t intern(const std::string& s);

  ListName list_;
  std::int64_t version_ = 0;
  std::size_t size_ = 0;
  std::vector<std::string> strings_;  // interned rooms and classes
  std::unordered_map<std::string_view, std::uint32_t> string_ids_;
  std::vector<PackedCard> cards_;     // sorted by key; cards and plates lists only
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
