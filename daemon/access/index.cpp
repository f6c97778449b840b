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

bool ListBlock::pack(std::string_view card, std::uint64_t& key) {
  if (card.empty() || card.size() > 16) return false;
  std::uint64_t v = 0;
  for (char c : card) {
    std::uint64_t d = 0;
    if (c >= '0' && c <= '9') d = static_cast<std::uint64_t>(c - '0');
    else if (c >= 'A' && c <= 'F') d = static_cast<std::uint64_t>(c - 'A' + 10);
    else return false;
    v = (v << 4) | d;
  }
  // The length goes into the key's meaning through a distinct map for each length would cost
  // memory; instead "00AB" and "AB" are the same number, which is how readers print UIDs of
  // different widths for the same card anyway.
  key = v;
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

ListBlock::ListBlock(const ListUpdate& u) : list_(u.list), version_(u.version) {
  const bool holders = u.list == ListName::cards || u.list == ListName::plates;
  if (holders) strings_.reserve(2 * u.entries.size() + 1);
  intern("");
  for (const auto& e : u.entries) {
    std::uint64_t key = 0;
    if (holders && e.kind == CredentialKind::card && pack(e.value, key)) {
      cards_.push_back({key, intern(e.room), intern(e.vehicle_class)});
    } else {
      entries_.insert_or_assign(map_key(e.kind, e.value), e);
    }
  }
  // Stable sort then keep the last of equal keys: a list naming a card twice keeps its last
  // entry, like the SQLite table (INSERT OR REPLACE).
  std::stable_sort(cards_.begin(), cards_.end(),
                   [](const PackedCard& a, const PackedCard& b) { return a.key < b.key; });
  std::vector<PackedCard> unique;
  unique.reserve(cards_.size());
  for (std::size_t i = 0; i < cards_.size(); ++i) {
    if (i + 1 < cards_.size() && cards_[i + 1].key == cards_[i].key) continue;
    unique.push_back(cards_[i]);
  }
  cards_ = std::move(unique);
  cards_.shrink_to_fit();
  size_ = cards_.size() + entries_.size();
}

bool ListBlock::find_holder(CredentialKind kind, std::string_view value, Holder& out) const {
  std::uint64_t key = 0;
  if (kind == CredentialKind::card && pack(value, key)) {
    auto it = std::lower_bound(cards_.begin(), cards_.end(), key,
                               [](const PackedCard& c, std::uint64_t k) { return c.key < k; });
    if (it == cards_.end() || it->key != key) return false;
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
