// What the bridge needs from the durable outbox, without knowing who stores it: pending records
// in seq order, and a way to retire the ones the broker acknowledged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace estate::cloud_bridge {

struct OutboxRecord {
  std::int64_t seq = 0;
  std::string stream;   // topic segment: readings, events, transactions ...
  std::string payload;  // the full JSON envelope {"v","id","seq","ts",...}
};

// Implemented by the daemon over its store. Thread-safety: called from the bridge's strand only;
// implementations may hand the work to another thread (acknowledge) but must keep call order.
class OutboxSource {
 public:
  virtual ~OutboxSource() = default;
  // Up to `max` pending records with seq > after_seq, ascending. Throws on a storage error.
  virtual std::vector<OutboxRecord> read_pending(std::int64_t after_seq, std::size_t max) = 0;
  // The broker acknowledged these records (PUBACK): remove them from the outbox. Durable later;
  // a record acknowledged twice is counted once.
  virtual void acknowledge(std::vector<std::int64_t> seqs) = 0;
  // Records not yet acknowledged (for the birth message).
  virtual std::int64_t backlog() = 0;
};

}  // namespace estate::cloud_bridge
