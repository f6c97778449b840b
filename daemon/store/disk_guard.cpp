#include "daemon/store/disk_guard.hpp"

#include <sys/statvfs.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include "daemon/record/alarm_state.hpp"
#include "daemon/record/record.hpp"
#include "daemon/store/store.hpp"

namespace estate::store {

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;
constexpr int chunk = 2000;  // rows per delete: keeps each transaction short
constexpr auto interval = std::chrono::milliseconds(2000);
// The writer's WAL auto-checkpoint, in pages: SQLite's default, and the one used while the file
// system is nearly full (see check_wal()).
constexpr int wal_pages_normal = 1000;
constexpr int wal_pages_low_space = 64;

struct Dropped {
  std::map<std::string, std::int64_t> outbox;  // per stream
  std::int64_t readings = 0;
  std::int64_t total_outbox() const {
    std::int64_t n = 0;
    for (const auto& [s, c] : outbox) n += c;
    return n;
  }
};

}  // namespace

DiskFigures disk_figures(const std::filesystem::path& state_dir) {
  DiskFigures f;
  struct statvfs vfs {};
  if (::statvfs(state_dir.c_str(), &vfs) == 0) {
    f.fs_size = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    f.fs_free = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    auto p = store_file(state_dir);
    p += suffix;
    auto n = std::filesystem::file_size(p, ec);
    if (!ec) f.store_size += n;
  }
  try {
    Database db(store_file(state_dir), OpenMode::read_only);
    f.store_free = static_cast<std::uint64_t>(db.query_int("PRAGMA freelist_count")) *
                   static_cast<std::uint64_t>(db.query_int("PRAGMA page_size"));
  } catch (const std::exception&) {
    // No store yet, or it cannot be read: count no free pages.
  }
  return f;
}

std::uint64_t free_space_floor(std::uint64_t fs_size) {
  return std::min<std::uint64_t>(fs_size / 10, 64 * MiB);
}

std::uint64_t reserve_size(std::uint64_t fs_size) {
  return std::min<std::uint64_t>(fs_size / 16, 4 * MiB);
}

DiskGuard::DiskGuard(runtime::Services& services)
    : services_(services),
      timer_(services.io),
      reserve_(services.store.state_dir() / ".disk-reserve") {}

void DiskGuard::start() {
  take_reserve(disk_figures(services_.store.state_dir()));
  arm(interval);
}

void DiskGuard::stop(std::function<void()> done) {
  stopping_ = true;
  timer_.cancel();
  done();
}

void DiskGuard::arm(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    check();
    arm(interval);
  });
}

void DiskGuard::take_reserve(const DiskFigures& f) {
  const auto want = reserve_size(f.fs_size);
  std::error_code ec;
  if (want == 0 || std::filesystem::exists(reserve_, ec)) return;
  // Only with room to spare: the reserve must never be what fills the disk.
  if (f.fs_free < free_space_floor(f.fs_size) + want) return;
  std::ofstream out(reserve_, std::ios::binary | std::ios::trunc);
  std::vector<char> zeros(64 * 1024, 0);
  for (std::uint64_t n = 0; out && n < want; n += zeros.size()) {
    out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  out.flush();
  if (!out) {
    out.close();
    std::filesystem::remove(reserve_, ec);
    spdlog::warn("disk: cannot write the reserve file {}", reserve_.string());
  }
}

// Free pages inside the store are room for its tables, not for its WAL: every write goes to the
// WAL first, and the WAL file only starts again from its beginning once a checkpoint has copied
// all of it into the store. With the default auto-checkpoint (1000 pages, 4 MiB) the WAL may
// still have to grow by megabytes when the file system fills; when it cannot, every commit fails
// with SQLITE_FULL — the guard's own deletes too — and the auto-checkpoint, which runs only after
// a successful commit, never comes: the store stays stuck while the disk stays full. So while the
// file system is below the floor, the writer checkpoints every few pages (the WAL file, already
// that big, is reused instead of grown), and the guard checkpoints too (RESTART: the next write
// starts the WAL from its beginning), which also frees a writer that is already stuck.
void DiskGuard::check_wal(const DiskFigures& f) {
  const bool low = f.fs_free < free_space_floor(f.fs_size);
  if (low != small_wal_) {
    small_wal_ = low;
    services_.store.write(
        [pages = low ? wal_pages_low_space : wal_pages_normal](Database& db) {
          db.query_int("PRAGMA wal_autocheckpoint = " + std::to_string(pages));
        },
        [](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            spdlog::warn("disk: cannot set the WAL checkpoint interval: {}", x.what());
          }
        });
  }
  if (!low) return;
  try {
    Database db(store_file(services_.store.state_dir()), OpenMode::read_write);
    sqlite3_busy_timeout(db.handle(), 500);  // on the daemon's io thread: never wait long
    int wal_frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_RESTART,
                                       &wal_frames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("disk: WAL checkpoint failed: {}", sqlite3_errmsg(db.handle()));
    } else {
      spdlog::debug("disk: WAL checkpoint: {} of {} frame(s) copied{}", copied, wal_frames,
                    rc == SQLITE_BUSY ? " (busy)" : "");
    }
  } catch (const std::exception& e) {
    spdlog::warn("disk: WAL checkpoint failed: {}", e.what());
  }
}

void DiskGuard::check() {
  const auto& dir = services_.store.state_dir();
  auto f = disk_figures(dir);
  if (f.fs_size == 0) return;
  if (f.fs_free < free_space_floor(f.fs_size) / 2) {
    // The checkpoint may have to grow the store file: give back the reserve first.
    std::error_code ec;
    if (std::filesystem::remove(reserve_, ec)) f = disk_figures(dir);
  }
  check_wal(f);
  if (*working_) return;  // the previous round is still on the writer
  const auto cfg = services_.config();
  const std::uint64_t budget = static_cast<std::uint64_t>(cfg->storage.max_db_mb) * MiB;
  const bool low_space = f.fs_free + f.store_free < free_space_floor(f.fs_size);
  const bool over_budget = f.store_size - std::min(f.store_size, f.store_free) > budget;
  if (!low_space && !over_budget) {
    if (under_pressure_ || !alarm_settled_) {
      if (under_pressure_) {
        spdlog::info("disk: pressure gone ({} MiB free, store {} MiB)", f.fs_free / MiB,
                     f.store_size / MiB);
      }
      under_pressure_ = false;
      alarm_settled_ = true;
      record::Alarm alarm;
      alarm.ts = iso8601_now(cfg->site.utc_offset_minutes);
      alarm.alarm = "disk_pressure";
      alarm.state = record::AlarmState::cleared;
      alarm.severity = record::Severity::info;
      alarm.detail = "disk pressure gone: " + std::to_string(f.fs_free / MiB) + " MiB free, store " +
                     std::to_string(f.store_size / MiB) + " MiB";
      services_.store.write(
          [gateway = cfg->gateway.id, alarm](Database& db) { record::transition(db, gateway, alarm); },
          [](std::exception_ptr e) {
            if (!e) return;
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& x) {
              spdlog::error("disk: clearing the disk_pressure alarm failed: {}", x.what());
            }
          });
    }
    take_reserve(f);
    return;
  }
  if (!under_pressure_) {
    spdlog::warn("disk: {} ({} KiB free of {} KiB, store {} KiB, budget {} MiB): dropping the "
                 "oldest telemetry",
                 low_space ? "file system almost full" : "store over storage.max_db_mb",
                 f.fs_free / 1024, f.fs_size / 1024, f.store_size / 1024, budget / MiB);
    under_pressure_ = true;
  }
  *working_ = true;
  auto dropped = std::make_shared<Dropped>();
  const std::string gateway = cfg->gateway.id;
  const int offset = cfg->site.utc_offset_minutes;
  record::Alarm alarm;
  alarm.alarm = "disk_pressure";
  alarm.state = record::AlarmState::raised;
  alarm.severity = record::Severity::major;
  alarm.detail = std::string(low_space ? "file system almost full" : "store over storage.max_db_mb") +
                 ": " + std::to_string(f.fs_free / 1024) + " KiB free of " +
                 std::to_string(f.fs_size / 1024) + " KiB, store " +
                 std::to_string(f.store_size / 1024) + " KiB; dropping the oldest telemetry";
  const auto detail = nlohmann::json{{"reason", low_space ? "low_disk_space" : "store_over_budget"},
                                     {"free_bytes", f.fs_free},
                                     {"store_bytes", f.store_size}};
  services_.store.write(
      [dropped, gateway, offset, detail, low_space, free_bytes = f.fs_free,
       store_bytes = f.store_size, alarm](Database& db) mutable {
        // Raised once per pressure, with its first look (whether or not anything is left to drop).
        alarm.ts = iso8601_now(offset);
        record::transition(db, gateway, alarm);
        auto pick = db.prepare(
            "SELECT seq, stream FROM outbox WHERE droppable = 1 ORDER BY seq LIMIT ?1");
        pick.bind(1, chunk);
        std::int64_t last_seq = -1;
        while (pick.step()) {
          ++dropped->outbox[pick.text(1)];
          last_seq = pick.int64(0);
        }
        pick.reset();
        if (last_seq >= 0) {
          db.prepare("DELETE FROM outbox WHERE droppable = 1 AND seq <= ?1").bind(1, last_seq).run();
          auto count = db.prepare(
              "INSERT INTO stream_counts(stream, dropped) VALUES(?1, ?2) "
              "ON CONFLICT(stream) DO UPDATE SET dropped = dropped + excluded.dropped");
          for (const auto& [stream, n] : dropped->outbox) count.bind(1, stream).bind(2, n).run();
        }
        // Stored readings (history for the dashboard and validation): oldest first, except
        // the newest of each register, which validation and billing continue from.
        db.prepare(
              "DELETE FROM readings WHERE id IN (SELECT id FROM readings r WHERE id < "
              "(SELECT max(id) FROM readings x WHERE x.meter = r.meter AND x.quantity = r.quantity)"
              " ORDER BY id LIMIT ?1)")
            .bind(1, chunk)
            .run();
        dropped->readings = sqlite3_changes(db.handle());
        if (dropped->total_outbox() == 0 && dropped->readings == 0) return;
        auto d = detail;
        d["dropped_records"] = dropped->total_outbox();
        d["dropped_readings"] = dropped->readings;
        d["streams"] = dropped->outbox;
        const auto ts = iso8601_now(offset);
        db.prepare("INSERT INTO events(ts, kind, source, detail) VALUES(?1, 'storage.pressure', "
                   "'disk', ?2)")
            .bind(1, ts)
            .bind(2, d.dump())
            .run();
        record::StoragePressure rec;
        rec.ts = ts;
        rec.reason = low_space ? "low_disk_space" : "store_over_budget";
        rec.free_bytes = static_cast<std::int64_t>(free_bytes);
        rec.store_bytes = static_cast<std::int64_t>(store_bytes);
        rec.dropped_records = dropped->total_outbox();
        rec.dropped_readings = dropped->readings;
        for (const auto& [stream, n] : dropped->outbox) rec.streams.emplace_back(stream, n);
        record::append(db, gateway, rec);
      },
      // Runs on the writer thread, possibly after this component is gone: no `this`.
      [working = working_, dropped, dir = dir.string()](std::exception_ptr e) {
        *working = false;
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            spdlog::error("disk: dropping telemetry failed: {}", x.what());
          }
          return;
        }
        if (dropped->total_outbox() == 0 && dropped->readings == 0) {
          spdlog::error("disk: under pressure and no droppable telemetry left; money, access "
                        "and audit records are kept: free space on {}",
                        dir);
          return;
        }
        spdlog::warn("disk: dropped {} undelivered telemetry record(s) and {} stored reading(s), "
                     "oldest first",
                     dropped->total_outbox(), dropped->readings);
      });
}

}  // namespace estate::store
