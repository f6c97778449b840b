// A device's readings as uplink records in one step, written straight into text: the one
// record made thousands of times a second (record.hpp has the one-record form, which gives the
// same bytes).
// Thread-safety: the store's writer thread, inside a job.
#pragma once

#include <string_view>
#include <vector>

#include "daemon/record/record.hpp"

namespace estate::record {

// Encodes and appends `readings` on stream "readings" with consecutive seqs
// (store::append_outbox_batch): the same records, byte for byte, as appending them one by one.
// Returns them in order.
std::vector<Appended> append(store::Database& db, std::string_view gateway,
                             const std::vector<Reading>& readings);

}  // namespace estate::record
