#include "daemon/access/index.hpp"

#include <algorithm>

namespace estate::access {

namespace {
std::string map_key(CredentialKind kind, std::string_view value) {
  std::string k(to_string(kind));
  k += ':';
  k += value;
  return k;
}
}  // namespace

bool ListBlock::pack(std::string_view hash, PackedKey& key) {
  // A keyed hash is 64 lower-case hex digits (is_credential_hash); 128 of its 256 bits tell a
  // million entries apart with a chance of a collision below 1e-26.
  if (hash.size() != 64) return false;
  std::uint64_t w[2] = {0, 0};
  for (std::size_t i = 0; i < 64; ++i) {
    const char c = hash[i];
    std::uint64_t d = 0;
    if (c >= '0' && c <= '9') d = static_cast<std::uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<std::uint64_t>(c - 'a' + 10);
    else return false;
    if (i < 32) w[i / 16] = (w[i / 16] << 4) | d;
  }
  key = {w[0], w[1]};
  return true;
}

std::uint32_t ListBlock::intern(const std::string& s) {
  auto it = string_ids_.find(s);
  if (it != string_ids_.end()) return it->second;
  // strings_ is reserved up front, so views into it stay valid.
  strings_.push_back(s);
  auto id = static_cast<std::uint32_t>(strings_.size() - 1);
  string_ids_.emplace(strings_.back(), id);
  return id;
}

ListBlock::ListBlock(const ListUpdate& u)
    : list_(u.list),
      version_(u.version),
      holders_(u.list == ListName::cards || u.list == ListName::plates) {
  if (holders_) strings_.reserve(2 * u.entries.size() + 1);
  intern("");
  // The cards list holds cards only, the plates list plates only: the kind needs no bits.
  const CredentialKind holder_kind =
      u.list == ListName::plates ? CredentialKind::plate : CredentialKind::card;
  for (const auto& e : u.entries) {
    PackedKey key{};
    if (holders_ && e.kind == holder_kind && pack(e.value, key)) {
      packed_.push_back({key, intern(e.room), intern(e.vehicle_class)});
    } else {
      entries_.insert_or_assign(map_key(e.kind, e.value), e);
    }
  }
  // Stable sort then keep the last of equal keys: a list naming a credential twice keeps its
  // last entry, like the SQLite table (INSERT OR REPLACE).
  std::stable_sort(packed_.begin(), packed_.end(),
                   [](const Packed& a, const Packed& b) { return a.key < b.key; });
  std::vector<Packed> unique;
  unique.reserve(packed_.size());
  for (std::size_t i = 0; i < packed_.size(); ++i) {
    if (i + 1 < packed_.size() && packed_[i + 1].key == packed_[i].key) continue;
    unique.push_back(packed_[i]);
  }
  packed_ = std::move(unique);
  packed_.shrink_to_fit();
  if (!packed_.empty()) {
    // Hashes are uniform: with a million entries each prefix holds about 15, so a lookup
    // touches the table and one or two cache lines instead of 20 levels of a binary search.
    starts_.assign(65537, 0);
    std::size_t i = 0;
    for (std::uint32_t b = 0; b < 65536; ++b) {
      starts_[b] = static_cast<std::uint32_t>(i);
      while (i < packed_.size() && (packed_[i].key.hi >> 48) == b) ++i;
    }
    starts_[65536] = static_cast<std::uint32_t>(packed_.size());
  }
  size_ = packed_.size() + entries_.size();
}

bool ListBlock::find_holder(CredentialKind kind, std::string_view value, Holder& out) const {
  PackedKey key{};
  const bool packable =
      holders_ && kind == (list_ == ListName::plates ? CredentialKind::plate : CredentialKind::card);
  if (packable && pack(value, key)) {
    if (packed_.empty()) return false;
    const std::size_t b = key.hi >> 48;
    const auto end = packed_.begin() + starts_[b + 1];
    auto it = std::lower_bound(packed_.begin() + starts_[b], end, key,
                               [](const Packed& c, const PackedKey& k) { return c.key < k; });
    if (it == end || !(it->key == key)) return false;
    out.room = strings_[it->room];
    out.vehicle_class = strings_[it->vehicle_class];
    return true;
  }
  const ListEntry* e = find_entry(kind, value);
  if (!e) return false;
  out.room = e->room;
  out.vehicle_class = e->vehicle_class;
  return true;
}

const ListEntry* ListBlock::find_entry(CredentialKind kind, std::string_view value) const {
  if (entries_.empty()) return nullptr;
  auto it = entries_.find(map_key(kind, value));
  return it == entries_.end() ? nullptr : &it->second;
}

const std::shared_ptr<const ListBlock>& Index::block(ListName l) const {
  switch (l) {
    case ListName::cards: return cards;
    case ListName::plates: return plates;
    case ListName::monthly_passes: return monthly_passes;
    case ListName::visitor_passes: return visitor_passes;
    case ListName::blocklist: return blocklist;
  }
  return cards;
}

std::shared_ptr<const Index> Index::with(std::shared_ptr<const ListBlock> b) const {
  auto next = std::make_shared<Index>(*this);
  switch (b->list()) {
    case ListName::cards: next->cards = std::move(b); break;
    case ListName::plates: next->plates = std::move(b); break;
    case ListName::monthly_passes: next->monthly_passes = std::move(b); break;
    case ListName::visitor_passes: next->visitor_passes = std::move(b); break;
    case ListName::blocklist: next->blocklist = std::move(b); break;
  }
  return next;
}

std::shared_ptr<const Index> empty_index() {
  auto idx = std::make_shared<Index>();
  for (auto l : {ListName::cards, ListName::plates, ListName::monthly_passes,
                 ListName::visitor_passes, ListName::blocklist}) {
    ListUpdate u;
    u.list = l;
    idx = std::const_pointer_cast<Index>(idx->with(std::make_shared<const ListBlock>(u)));
  }
  return idx;
}

std::shared_ptr<const Index> load_index(store::Database& db) {
  std::shared_ptr<const Index> idx = empty_index();
  for (auto l : {ListName::cards, ListName::plates, ListName::monthly_passes,
                 ListName::visitor_passes, ListName::blocklist}) {
    idx = idx->with(std::make_shared<const ListBlock>(read_list(db, l)));
  }
  return idx;
}

}  // namespace estate::access
