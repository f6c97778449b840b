#include "daemon/bridge/store_outbox.hpp"

#include <spdlog/spdlog.h>

#include <map>

namespace estate::bridge {

StoreOutbox::StoreOutbox(store::Store& store)
    : store_(store),
      reader_(store.open_reader()),
      select_(reader_.prepare("SELECT seq, stream, payload FROM outbox WHERE seq > ?1 "
                              "ORDER BY seq LIMIT ?2")),
      count_(reader_.prepare("SELECT count(*) FROM outbox")) {}

std::vector<cloud_bridge::OutboxRecord> StoreOutbox::read_pending(std::int64_t after_seq,
                                                            std::size_t max) {
  std::vector<cloud_bridge::OutboxRecord> out;
  out.reserve(max);
  select_.bind(1, after_seq).bind(2, static_cast<std::int64_t>(max));
  try {
    while (select_.step()) out.push_back({select_.int64(0), select_.text(1), select_.text(2)});
  } catch (...) {
    select_.reset();
    throw;
  }
  // Reset at once: an open read statement would pin a WAL snapshot and block checkpoints.
  select_.reset();
  return out;
}

std::int64_t StoreOutbox::backlog() {
  std::int64_t n = 0;
  if (count_.step()) n = count_.int64(0);
  count_.reset();
  return n;
}

void StoreOutbox::retire(store::Database& db, const std::vector<std::int64_t>& seqs) {
  struct Cached {
    store::Statement del, count, acked;
  };
  static thread_local std::map<sqlite3*, Cached> cache;
  auto it = cache.find(db.handle());
  if (it == cache.end()) {
    it = cache
             .emplace(db.handle(),
                      Cached{db.prepare("DELETE FROM outbox WHERE seq = ?1 RETURNING stream"),
                             db.prepare("UPDATE stream_counts SET acknowledged = acknowledged + ?2 "
                                        "WHERE stream = ?1"),
                             db.prepare("INSERT INTO meta(key, value) VALUES('outbox_acked_seq', ?1) "
                                        "ON CONFLICT(key) DO UPDATE SET value = "
                                        "max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))")})
             .first;
  }
  auto& c = it->second;
  std::map<std::string, std::int64_t> per_stream;
  std::int64_t highest = 0;
  for (auto seq : seqs) {
    c.del.bind(1, seq);
    // A row already gone (acknowledged twice: resent after a reconnect) is not counted again.
    if (c.del.step()) ++per_stream[c.del.text(0)];
    c.del.reset();
    highest = std::max(highest, seq);
  }
  for (auto& [stream, n] : per_stream) c.count.bind(1, stream).bind(2, n).run();
  if (highest > 0) c.acked.bind(1, highest).run();
}

void StoreOutbox::acknowledge(std::vector<std::int64_t> seqs) {
  {
    std::lock_guard lock(acks_->mutex);
    acks_->seqs.insert(acks_->seqs.end(), seqs.begin(), seqs.end());
    if (acks_->queued) return;  // the queued job takes these too
    acks_->queued = true;
  }
  store_.write([acks = acks_](store::Database& db) {
                 std::vector<std::int64_t> take;
                 {
                   std::lock_guard lock(acks->mutex);
                   take.swap(acks->seqs);
                   acks->queued = false;
                 }
                 retire(db, take);
               },
               [acks = acks_](std::exception_ptr e) {
                 if (!e) return;
                 {
                   // A job the store refused (stopping) never ran: let the next ack queue one.
                   std::lock_guard lock(acks->mutex);
                   acks->queued = false;
                 }
                 try {
                   std::rethrow_exception(e);
                 } catch (const std::exception& ex) {
                   // The rows stay in the outbox and are sent again: a duplicate, never a loss.
                   spdlog::error("outbox: recording broker acknowledgements failed: {}", ex.what());
                 }
               });
}

}  // namespace estate::bridge
