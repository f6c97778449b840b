// The bridge's OutboxSource over the daemon's store: pending rows read on a reader connection,
// acknowledged rows deleted by the single writer (group commit) with stream_counts.acknowledged
// and meta outbox_acked_seq bumped in the same transaction. Acknowledgements that arrive while
// a retire job is still queued join it: one writer job however fast PUBACKs come.
// Thread-safety: one caller at a time (the bridge's strand).
#pragma once

#include <memory>
#include <mutex>

#include "cloud-bridge/outbox_source.hpp"
#include "daemon/store/store.hpp"

namespace estate::bridge {

class StoreOutbox : public cloud_bridge::OutboxSource {
 public:
  explicit StoreOutbox(store::Store& store);

  std::vector<cloud_bridge::OutboxRecord> read_pending(std::int64_t after_seq, std::size_t max) override;
  void acknowledge(std::vector<std::int64_t> seqs) override;
  std::int64_t backlog() override;

  // Runs in a writer job: removes the rows, counts each once per stream. Exposed for tests.
  static void retire(store::Database& db, const std::vector<std::int64_t>& seqs);

 private:
  struct Acks {
    std::mutex mutex;
    std::vector<std::int64_t> seqs;  // acknowledged, not yet handed to a writer job
    bool queued = false;             // a retire job is queued and will take `seqs`
  };
  store::Store& store_;
  std::shared_ptr<Acks> acks_ = std::make_shared<Acks>();
  store::Database reader_;
  store::Statement select_, count_;
};

}  // namespace estate::bridge
