// Outbox rows in bulk: a device's readings take consecutive seqs in one step (one counter update
// and one stream count for the lot), so each costs one outbox row and nothing more. The rules of
// append_outbox_encoded (store.hpp) hold: the text is stored as given, inside the caller's
// writer transaction. Thread-safety: the writer thread, inside a job.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/store/store.hpp"

namespace estate::store {

// `encode(i, a)` returns record i's complete text. Returns the seqs and ids in order. Throws
// store::Error when the store fails.
using OutboxBatchEncoder = std::function<std::string(std::size_t index, const OutboxAppend&)>;
std::vector<OutboxAppend> append_outbox_batch(Database& db, std::string_view stream,
                                              bool droppable, std::string_view gateway_id,
                                              std::size_t count, const OutboxBatchEncoder& encode);

}  // namespace estate::store
