// Access decision latency with a 1,000,000-card list and a 100,000-plate list, and the memory
// the index takes. The lists are hashed as the gateway keeps them (CredentialHasher) and each
// decision does what AccessService::decide() does before its lock: hash the credential, then
// evaluate by that hash. Prints p50/p99 per decision (steady_clock around hash + evaluate),
// the p50 of evaluate alone (lookup_p50_us) and the RSS growth of building the index.
// Run: build-*/tests/bench/access_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "daemon/access/credential_hash.hpp"
#include "daemon/access/policy.hpp"

namespace {

using namespace estate::access;

long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

std::string hex8(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08X", v);
  return buf;
}

std::string plate(std::uint32_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "A%05u", i);
  return std::string("粤") + buf;
}

estate::privacy::Key bench_key() {
  estate::privacy::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return k;
}

struct Fixture {
  CredentialHasher hasher{bench_key()};
  CredentialKeyOf key_of = [this](CredentialKind k, std::string_view v) {
    return hasher.hash(k, v);
  };
  std::shared_ptr<const Index> index;
  std::vector<std::string> cards;
  std::vector<std::string> plates;
  long index_kb = 0;

  Fixture() {
    std::mt19937 rng(42);
    cards.reserve(1'000'000);
    for (int i = 0; i < 1'000'000; ++i) cards.push_back(hex8(rng()));
    for (std::uint32_t i = 0; i < 100'000; ++i) plates.push_back(plate(i));
    const long before = rss_kb();
    {
      ListUpdate c;
      c.list = ListName::cards;
      c.version = 1;
      c.entries.reserve(cards.size());
      for (std::size_t i = 0; i < cards.size(); ++i) {
        ListEntry e;
        e.kind = CredentialKind::card;
        e.value = cards[i];
        e.room = std::to_string(i % 30) + "-" + std::to_string(i / 30 % 3000);
        c.entries.push_back(std::move(e));
      }
      ListUpdate p;
      p.list = ListName::plates;
      p.version = 1;
      for (std::size_t i = 0; i < plates.size(); ++i) {
        ListEntry e;
        e.kind = CredentialKind::plate;
        e.value = plates[i];
        e.room = std::to_string(i % 30) + "-" + std::to_string(i / 30 % 3000);
        p.entries.push_back(std::move(e));
      }
      hasher.protect(c);
      hasher.protect(p);
      const long lists_kb = rss_kb();
      auto idx = empty_index()->with(std::make_shared<const ListBlock>(c));
      index = idx->with(std::make_shared<const ListBlock>(p));
      // The index alone: RSS after building it minus RSS with the source lists in memory.
      index_kb = rss_kb() - lists_kb;
    }
    std::printf("index of %zu cards + %zu plates: %.1f MiB (RSS %ld KiB before lists, %ld KiB "
                "now)\n",
                index->cards->size(), index->plates->size(), index_kb / 1024.0, before,
                rss_kb());
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void run(benchmark::State& state, CredentialKind kind, bool known) {
  auto& f = fixture();
  AccessConfig cfg;
  cfg.arrears = {{1, ArrearsAction::warn}, {3, ArrearsAction::deny}};
  cfg.anti_passback = true;
  NoArrears arrears;
  PassageState passage;
  std::mt19937 rng(7);
  std::vector<std::int64_t> ns, lookup_ns;
  ns.reserve(1 << 20);
  lookup_ns.reserve(1 << 20);
  for (auto _ : state) {
    AccessRequest r;
    r.kind = kind;
    if (kind == CredentialKind::card) {
      r.value = known ? f.cards[rng() % f.cards.size()] : hex8(rng()) + "FF";
    } else {
      r.value = known ? f.plates[rng() % f.plates.size()] : "苏Z" + std::to_string(rng() % 99999);
    }
    r.gate = "main";
    r.time_utc = 1772323200;
    const auto t0 = std::chrono::steady_clock::now();
    const std::string key = f.hasher.hash(r.kind, r.value);
    const auto th = std::chrono::steady_clock::now();
    Decision d = evaluate(*f.index, cfg, arrears, passage, r, key, f.key_of);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(d);
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    lookup_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - th).count());
  }
  std::sort(ns.begin(), ns.end());
  std::sort(lookup_ns.begin(), lookup_ns.end());
  if (!lookup_ns.empty()) state.counters["lookup_p50_us"] = lookup_ns[lookup_ns.size() / 2] / 1000.0;
  if (!ns.empty()) {
    state.counters["p50_us"] = ns[ns.size() / 2] / 1000.0;
    state.counters["p99_us"] = ns[ns.size() * 99 / 100] / 1000.0;
    state.counters["max_us"] = ns.back() / 1000.0;
  }
  state.counters["index_MiB"] = f.index_kb / 1024.0;
  state.counters["rss_MiB"] = rss_kb() / 1024.0;
}

void BM_DecideKnownCard(benchmark::State& s) { run(s, CredentialKind::card, true); }
void BM_DecideUnknownCard(benchmark::State& s) { run(s, CredentialKind::card, false); }
void BM_DecideKnownPlate(benchmark::State& s) { run(s, CredentialKind::plate, true); }
void BM_DecideUnknownPlate(benchmark::State& s) { run(s, CredentialKind::plate, false); }

BENCHMARK(BM_DecideKnownCard)->Iterations(200000);
BENCHMARK(BM_DecideUnknownCard)->Iterations(200000);
BENCHMARK(BM_DecideKnownPlate)->Iterations(200000);
BENCHMARK(BM_DecideUnknownPlate)->Iterations(200000);

}  // namespace
