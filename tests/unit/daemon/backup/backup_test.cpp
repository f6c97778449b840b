// Encrypted backup and restore: a round trip while a writer thread keeps appending, wrong key,
// corrupted and truncated files, wrong gateway, seq monotonic after restore (from the replaced
// store, from the high-water file when the store is gone, from --min-seq), the state lock.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "daemon/audit/audit.hpp"
#include "daemon/backup/backup.hpp"
#include "daemon/backup/seq_highwater.hpp"
#include "daemon/backup/state_lock.hpp"
#include "daemon/store/store.hpp"

namespace estate::backup {
namespace {

namespace fs = std::filesystem;

privacy::Key make_key(std::uint8_t seed) {
  privacy::Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i * 7);
  return k;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// One money movement: an outbox record and its audit entry in the same job (transaction).
void charge(store::Database& db, const std::string& gateway, int n) {
  auto ts = store::iso8601_now(480);
  store::append_outbox(db, gateway, "charges", ts,
                       R"({"room":"1-101","amount_fen":)" + std::to_string(n) + "}", false);
  audit::Entry e;
  e.ts = ts;
  e.kind = "money.charge";
  e.actor = "system";
  e.subject = "room:1-101";
  e.room = "1-101";
  e.detail_json = R"({"amount_fen":)" + std::to_string(n) + "}";
  audit::append(db, e);
}

void bind_gateway(store::Store& s, const std::string& gateway) {
  s.write_sync([&](store::Database& db) {
    db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES('gateway_id', ?1)")
        .bind(1, gateway)
        .run();
  });
}

std::int64_t counter(const fs::path& dir) {
  store::Database db(store::store_file(dir), store::OpenMode::read_only);
  return db.query_int("SELECT value FROM counters WHERE name = 'outbox_seq'");
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("estate-backup-test-" + std::to_string(rd()));
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A stopped store in `dir` for `gateway` with `n` charges; returns its counter.
  std::int64_t make_store(const fs::path& dir, const std::string& gateway, int n) {
    store::Store s(dir);
    bind_gateway(s, gateway);
    for (int i = 0; i < n; ++i) s.write_sync([&](store::Database& db) { charge(db, gateway, i); });
    s.stop();
    return counter(dir);
  }

  ErrorKind restore_error(const fs::path& file, const fs::path& dir, const privacy::Key& key,
                          RestoreOptions o = {}) {
    try {
      restore_backup(file, dir, key, o);
    } catch (const BackupError& e) {
      last_message_ = e.what();
      return e.kind();
    }
    ADD_FAILURE() << "restore succeeded";
    return ErrorKind::io;
  }

  fs::path root_;
  std::string last_message_;
  const privacy::Key key_ = make_key(1);
};

TEST_F(BackupTest, RoundTripWhileAWriterAppends) {
  const fs::path live = root_ / "live";
  store::Store s(live, 50);
  bind_gateway(s, "gw-1");
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      s.write_sync([&](store::Database& db) { charge(db, "gw-1", i); });
      ++written;
    }
  });
  while (written < 200) std::this_thread::yield();
  const fs::path file = root_ / "b1.eebak";
  auto res = create_backup(live, file, key_, "2026-11-23T03:30:00.000+08:00");
  const int after_backup = written;
  while (written < after_backup + 200) std::this_thread::yield();
  stop = true;
  writer.join();
  s.stop();

  EXPECT_EQ(res.header.gateway, "gw-1");
  EXPECT_EQ(res.header.created, "2026-11-23T03:30:00.000+08:00");
  EXPECT_EQ(res.header.schema.at("audit"), 1);
  EXPECT_GE(res.header.outbox_seq, 200);
  EXPECT_LT(res.header.outbox_seq, counter(live));  // taken while the writer ran
  EXPECT_EQ(res.header.audit_count, res.header.outbox_seq);  // same transactions
  EXPECT_GT(res.bytes, 0u);
  EXPECT_EQ(read_header(file).outbox_seq, res.header.outbox_seq);
  // Nothing of the plaintext is left beside the store.
  for (const auto& e : fs::directory_iterator(live)) {
    EXPECT_EQ(e.path().filename().string().find(".backup"), std::string::npos) << e.path();
  }
  // The file does not contain the store's plaintext.
  EXPECT_EQ(slurp(file).find("money.charge"), std::string::npos);

  const fs::path fresh = root_ / "fresh";
  auto r = restore_backup(file, fresh, key_, {});
  EXPECT_FALSE(r.replaced_existing);
  EXPECT_EQ(r.restored_seq, res.header.outbox_seq);
  EXPECT_EQ(r.resumed_seq, res.header.outbox_seq);

  auto db = store::open_store(fresh, store::OpenMode::read_write);
  // A consistent snapshot: every charge has its outbox record and its audit entry.
  EXPECT_EQ(db.query_int("SELECT count(*) FROM outbox WHERE stream = 'charges'"),
            res.header.outbox_seq);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM audit_log WHERE kind = 'money.charge'"),
            res.header.audit_count);
  auto v = audit::verify(db);
  EXPECT_TRUE(v.ok) << (v.broken ? v.broken->message : "");
  EXPECT_EQ(v.entries, res.header.audit_count + 1);  // + the backup.restore entry
  auto last = audit::query(db, {});
  EXPECT_EQ(last.back().kind, "backup.restore");
  // The restore is announced on the audit stream with the next seq.
  auto st = db.prepare("SELECT seq, payload FROM outbox WHERE stream = 'audit'");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), r.resumed_seq + 1);
  EXPECT_NE(st.text(1).find(R"("kind":"audit.restore")"), std::string::npos) << st.text(1);
  EXPECT_EQ(read_highwater(fresh), r.resumed_seq + 1);
}

TEST_F(BackupTest, WrongKeyIsRefusedAndNothingIsReplaced) {
  const fs::path dir = root_ / "s";
  make_store(dir, "gw-1", 5);
  const fs::path file = root_ / "b.eebak";
  create_backup(dir, file, key_, "t");
  make_store(dir, "gw-1", 0);
  const std::string before = slurp(store::store_file(dir));
  EXPECT_EQ(restore_error(file, dir, make_key(2)), ErrorKind::wrong_key);
  EXPECT_NE(last_message_.find("wrong key"), std::string::npos) << last_message_;
  EXPECT_EQ(slurp(store::store_file(dir)), before);
  EXPECT_FALSE(fs::exists(store::store_file(dir).string() + ".pre-restore"));
}

TEST_F(BackupTest, CorruptedOrTruncatedFilesAreRefused) {
  const fs::path dir = root_ / "s";
  make_store(dir, "gw-1", 20);
  const fs::path file = root_ / "b.eebak";
  create_backup(dir, file, key_, "t");
  const std::string good = slurp(file);
  const std::string before = slurp(store::store_file(dir));
  const fs::path bad = root_ / "bad.eebak";

  std::string body = good;
  body[body.size() / 2] ^= 0x01;  // one bit of ciphertext
  spit(bad, body);
  EXPECT_EQ(restore_error(bad, dir, key_), ErrorKind::corrupted);
  EXPECT_NE(last_message_.find("failed authentication"), std::string::npos) << last_message_;

  std::string header = good;
  auto pos = header.find("\"gw-1\"");
  ASSERT_NE(pos, std::string::npos);
  header[pos + 4] = '2';  // the header claims gateway gw-2: authenticated, so refused
  spit(bad, header);
  EXPECT_EQ(restore_error(bad, dir, key_), ErrorKind::corrupted);

  std::string tag = good;
  tag.back() ^= 0x80;
  spit(bad, tag);
  EXPECT_EQ(restore_error(bad, dir, key_), ErrorKind::corrupted);

  spit(bad, good.substr(0, good.size() - 100));
  EXPECT_EQ(restore_error(bad, dir, key_), ErrorKind::corrupted);
  spit(bad, good.substr(0, 20));
  EXPECT_EQ(restore_error(bad, dir, key_), ErrorKind::not_a_backup);
  spit(bad, "SQLite format 3" + std::string(100, '\0'));
  EXPECT_EQ(restore_error(bad, dir, key_), ErrorKind::not_a_backup);
  EXPECT_EQ(restore_error(root_ / "missing.eebak", dir, key_), ErrorKind::io);

  EXPECT_EQ(slurp(store::store_file(dir)), before);
  std::vector<std::string> leftovers;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".restore") != std::string::npos) {
      leftovers.push_back(e.path().string());
    }
  }
  EXPECT_TRUE(leftovers.empty());
}

TEST_F(BackupTest, WrongGatewayIsRefusedUnlessForced) {
  make_store(root_ / "a", "gw-a", 3);
  const fs::path file = root_ / "a.eebak";
  create_backup(root_ / "a", file, key_, "t");
  const fs::path other = root_ / "b";
  make_store(other, "gw-b", 7);
  EXPECT_EQ(restore_error(file, other, key_), ErrorKind::gateway_mismatch);
  EXPECT_NE(last_message_.find("gw-a"), std::string::npos);
  EXPECT_NE(last_message_.find("gw-b"), std::string::npos);

  RestoreOptions force;
  force.force_gateway = true;
  auto r = restore_backup(file, other, key_, force);
  EXPECT_EQ(r.replaced_gateway, "gw-b");
  EXPECT_EQ(r.resumed_seq, 7);  // still above the replaced gateway's numbering
  EXPECT_TRUE(fs::exists(store::store_file(other).string() + ".pre-restore"));
}

TEST_F(BackupTest, UnreadableStoreNeedsForce) {
  make_store(root_ / "a", "gw-a", 3);
  const fs::path file = root_ / "a.eebak";
  create_backup(root_ / "a", file, key_, "t");
  const fs::path broken = root_ / "broken";
  fs::create_directories(broken);
  spit(store::store_file(broken), std::string(8192, 'x'));
  EXPECT_EQ(restore_error(file, broken, key_), ErrorKind::gateway_mismatch);
  EXPECT_NE(last_message_.find("cannot be read"), std::string::npos) << last_message_;
  RestoreOptions force;
  force.force_gateway = true;
  EXPECT_NO_THROW(restore_backup(file, broken, key_, force));
  auto db = store::open_store(broken, store::OpenMode::read_write);
  EXPECT_TRUE(audit::verify(db).ok);
}

TEST_F(BackupTest, SeqStaysMonotonicAfterRestore) {
  const fs::path dir = root_ / "s";
  const auto s1 = make_store(dir, "gw-1", 10);
  const fs::path file = root_ / "b.eebak";
  create_backup(dir, file, key_, "t");
  const auto s2 = make_store(dir, "gw-1", 25);  // the platform saw up to s2
  ASSERT_GT(s2, s1);

  auto r = restore_backup(file, dir, key_, {});
  EXPECT_EQ(r.restored_seq, s1);
  EXPECT_EQ(r.replaced_seq, s2);
  EXPECT_EQ(r.resumed_seq, s2);
  {
    store::Store s(dir);
    std::int64_t next = 0;
    s.write_sync([&](store::Database& db) {
      next = store::append_outbox(db, "gw-1", "charges", "t", "{}", false).seq;
    });
    EXPECT_EQ(next, s2 + 2);  // s2 + 1 is the restore notice
  }

  // The store is lost altogether: the high-water mark outside it still holds the numbering.
  const auto s3 = counter(dir);
  raise_highwater(dir, s3 + 1000);
  for (const char* suffix : {"", "-wal", "-shm", ".pre-restore"}) {
    fs::remove(store::store_file(dir).string() + suffix);
  }
  auto r2 = restore_backup(file, dir, key_, {});
  EXPECT_EQ(r2.replaced_seq, -1);
  EXPECT_EQ(r2.highwater, s3 + 1000);
  EXPECT_EQ(r2.resumed_seq, s3 + 1000);
  EXPECT_EQ(counter(dir), s3 + 1001);
  EXPECT_EQ(read_highwater(dir), s3 + 1001);

  // The platform's own figure wins when it is higher.
  RestoreOptions o;
  o.min_seq = s3 + 5000;
  auto r3 = restore_backup(file, dir, key_, o);
  EXPECT_EQ(r3.resumed_seq, s3 + 5000);
}

TEST_F(BackupTest, RestoreRefusesWhileAnotherProcessHoldsTheStateLock) {
  const fs::path dir = root_ / "s";
  make_store(dir, "gw-1", 2);
  const fs::path file = root_ / "b.eebak";
  create_backup(dir, file, key_, "t");
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = acquire_state_lock(dir);
    char c = 1;
    (void)!::write(ready[1], &c, 1);
    (void)!::read(release[0], &c, 1);
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_TRUE(state_locked_elsewhere(dir));
  const std::string before = slurp(store::store_file(dir));
  EXPECT_EQ(restore_error(file, dir, key_), ErrorKind::locked);
  EXPECT_NE(last_message_.find("in use by another process"), std::string::npos) << last_message_;
  EXPECT_EQ(slurp(store::store_file(dir)), before);
  (void)!::write(release[1], &c, 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_FALSE(state_locked_elsewhere(dir));
  EXPECT_NO_THROW(restore_backup(file, dir, key_, {}));
  for (int fd : {ready[0], ready[1], release[0], release[1]}) ::close(fd);
}

TEST_F(BackupTest, NoStoreNoBackup) {
  try {
    create_backup(root_ / "none", root_ / "x.eebak", key_, "t");
    FAIL() << "backup of nothing succeeded";
  } catch (const BackupError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::no_store);
  }
  EXPECT_FALSE(fs::exists(root_ / "x.eebak"));
}

}  // namespace
}  // namespace estate::backup
