// Disk pressure: keeps the store writable when its file system fills up or the store outgrows
// storage.max_db_mb. Every couple of seconds it looks at the room left for the store — the free
// space of the state dir's file system plus the free pages inside the store file, which SQLite
// reuses before it grows the file — and at the store's size less its free pages; under pressure it drops the oldest droppable telemetry first
// (undelivered outbox records marked droppable, oldest seq first, and the oldest stored
// readings), in bounded chunks, until the pressure is gone or nothing droppable is left. Drops
// are counted per stream (stream_counts.dropped, /metrics estate_outbox_dropped_total), logged,
// and reported as a `storage.pressure` event (events table and the outbox). Money, access
// events and audit entries are never dropped. The alarm `disk_pressure` (stream alarms) is raised
// with the first drop of a pressure and cleared once it is gone (record/alarm_state.hpp: once per
// transition, also across restarts: the first look without pressure clears one left raised).
//
// A small reserve file (`.disk-reserve` in the state dir) is kept while there is room: when the
// file system is full it is released first, so the deletes themselves (which need WAL space)
// can run, and taken again once the pressure is gone. While the file system is nearly full the
// WAL is kept from growing: the writer checkpoints every 64 pages and the guard checkpoints
// (RESTART) at each look, so writes reuse the WAL file instead of needing new disk space.
// Thread-safety: driven by the daemon's io_context (start/stop); the work runs on the writer.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "daemon/runtime/component.hpp"

namespace estate::store {

struct DiskFigures {
  std::uint64_t fs_size = 0;     // bytes of the state dir's file system
  std::uint64_t fs_free = 0;     // bytes available to the daemon
  std::uint64_t store_size = 0;  // the store file with its -wal and -shm
  std::uint64_t store_free = 0;  // free pages inside the store file (reused before it grows)
};
DiskFigures disk_figures(const std::filesystem::path& state_dir);

// Free space below which the guard acts: 10% of the file system, at most 64 MiB.
std::uint64_t free_space_floor(std::uint64_t fs_size);
// Bytes of the reserve file: 1/16 of the file system, at most 4 MiB.
std::uint64_t reserve_size(std::uint64_t fs_size);

class DiskGuard : public runtime::Component {
 public:
  explicit DiskGuard(runtime::Services& services);
  std::string_view name() const override { return "disk"; }
  void start() override;
  void stop(std::function<void()> done) override;

 private:
  void arm(std::chrono::milliseconds after);
  void check();
  void take_reserve(const DiskFigures& f);
  void check_wal(const DiskFigures& f);
  runtime::Services& services_;
  boost::asio::steady_timer timer_;
  std::filesystem::path reserve_;
  std::shared_ptr<std::atomic<bool>> working_ = std::make_shared<std::atomic<bool>>(false);
  bool stopping_ = false;
  bool under_pressure_ = false;
  bool alarm_settled_ = false;  // a look without pressure has cleared any alarm left raised
  bool small_wal_ = false;  // the writer checkpoints every few pages (file system nearly full)
};

}  // namespace estate::store
