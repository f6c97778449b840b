// The bridge's OutboxSource over the daemon's store: pending rows read on a reader connection,
// acknowledged rows deleted by the single writer (group commit) with stream_counts.acknowledged
// and meta outbox_acked_seq bumped in the same transaction.
// Thread-safety: one caller at a time (the bridge's strand).
#pragma once

#include "cloud-bridge/outbox_source.hpp"
#include "daemon/store/store.hpp"

namespace estate::cloud {

class StoreOutbox : public bridge::OutboxSource {
 public:
  explicit StoreOutbox(store::Store& store);

  std::vector<bridge::OutboxRecord> read_pending(std::int64_t after_seq, std::size_t max) override;
  void acknowledge(std::vector<std::int64_t> seqs) override;
  std::int64_t backlog() override;

  // Runs in a writer job: removes the rows, counts each once per stream. Exposed for tests.
  static void retire(store::Database& db, const std::vector<std::int64_t>& seqs);

 private:
  store::Store& store_;
  store::Database reader_;
  store::Statement select_, count_;
};

}  // namespace estate::cloud
