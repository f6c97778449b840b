#include "daemon/backup/backup.hpp"

#include <fcntl.h>
#include <grp.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "daemon/audit/audit.hpp"
#include "daemon/backup/seq_highwater.hpp"
#include "daemon/backup/state_lock.hpp"
#include "daemon/record/record.hpp"
#include "daemon/store/schema.hpp"
#include "daemon/store/store.hpp"

namespace estate::backup {

namespace fs = std::filesystem;

namespace {

constexpr std::array<char, 8> magic{'E', 'E', 'B', 'A', 'C', 'K', 'U', 'P'};
constexpr std::size_t fixed_prefix = 8 + 2 + 4;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr std::uint32_t max_header = 1 << 20;
constexpr std::size_t chunk = 64 * 1024;

std::string sys_error(const std::string& what, const fs::path& p) {
  return what + " " + p.string() + ": " + std::strerror(errno);
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void close_checked(const fs::path& p) {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw BackupError(ErrorKind::io, sys_error("close", p));
  }

 private:
  int fd_;
};

void write_all(int fd, const void* data, std::size_t n, const fs::path& p) {
  auto* c = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw BackupError(ErrorKind::io, sys_error("write", p));
    }
    c += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Reads up to n bytes; fewer only at end of file.
std::size_t read_some(int fd, void* data, std::size_t n, const fs::path& p) {
  auto* c = static_cast<char*>(data);
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, c + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw BackupError(ErrorKind::io, sys_error("read", p));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

// A private temporary file (mode 0600) beside the store; removed with its SQLite side files
// unless released.
class TempFile {
 public:
  TempFile(const fs::path& dir, const std::string& stem) {
    std::string tmpl = (dir / (stem + "-XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    if (fd < 0) throw BackupError(ErrorKind::io, sys_error("cannot create a temporary file in", dir));
    ::close(fd);
    path_ = buf.data();
  }
  ~TempFile() {
    if (path_.empty()) return;
    std::error_code ec;
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
      fs::remove(fs::path(path_.string() + suffix), ec);
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

struct CipherCtx {
  CipherCtx() : ctx(EVP_CIPHER_CTX_new()) {
    if (!ctx) throw BackupError(ErrorKind::io, "OpenSSL: cannot allocate a cipher context");
  }
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
  EVP_CIPHER_CTX* ctx;
};

void ossl(int rc, const char* what) {
  if (rc != 1) throw BackupError(ErrorKind::io, std::string("OpenSSL ") + what + " failed");
}

std::string meta_value(store::Database& db, const char* key) {
  auto st = db.prepare("SELECT value FROM meta WHERE key = ?1");
  st.bind(1, key);
  return st.step() ? st.text(0) : std::string();
}

bool has_table(store::Database& db, const char* name) {
  auto st = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  st.bind(1, name);
  return st.step();
}

std::string to_json(const Header& h) { return header_json(h).dump(); }

// The header read back, and the bytes it was authenticated with.
struct Opened {
  Header header;
  std::string aad;            // every byte before the nonce
  std::uint64_t file_size = 0;
};

Opened open_backup(int fd, const fs::path& file) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw BackupError(ErrorKind::io, sys_error("stat", file));
  Opened o;
  o.file_size = static_cast<std::uint64_t>(st.st_size);
  std::array<unsigned char, fixed_prefix> fixed{};
  if (read_some(fd, fixed.data(), fixed.size(), file) != fixed.size() ||
      !std::equal(magic.begin(), magic.end(), fixed.begin(),
                  [](char a, unsigned char b) { return static_cast<unsigned char>(a) == b; })) {
    throw BackupError(ErrorKind::not_a_backup,
                      file.string() + " is not an estate-edge backup (no EEBACKUP header)");
  }
  const std::uint16_t format = static_cast<std::uint16_t>(fixed[8] << 8 | fixed[9]);
  const std::uint32_t len = static_cast<std::uint32_t>(fixed[10]) << 24 |
                            static_cast<std::uint32_t>(fixed[11]) << 16 |
                            static_cast<std::uint32_t>(fixed[12]) << 8 | fixed[13];
  if (format < 1 || format > format_version) {
    throw BackupError(ErrorKind::not_a_backup,
                      file.string() + " is backup format " + std::to_string(format) +
                          "; this estate-edge reads formats 1 to " +
                          std::to_string(format_version));
  }
  if (len == 0 || len > max_header ||
      o.file_size < fixed_prefix + len + nonce_size + tag_size) {
    throw BackupError(ErrorKind::not_a_backup,
                      file.string() + " is truncated or its header length (" +
                          std::to_string(len) + ") is impossible");
  }
  std::string json_text(len, '\0');
  if (read_some(fd, json_text.data(), len, file) != len) {
    throw BackupError(ErrorKind::not_a_backup, file.string() + " is truncated in its header");
  }
  try {
    auto j = nlohmann::json::parse(json_text);
    Header& h = o.header;
    h.format = format;
    h.gateway = j.at("gateway").get<std::string>();
    h.created = j.at("created").get<std::string>();
    h.schema = j.at("schema").get<std::map<std::string, std::int64_t>>();
    h.outbox_seq = j.at("outbox_seq").get<std::int64_t>();
    h.audit_count = j.at("audit").at("count").get<std::int64_t>();
    h.audit_head = j.at("audit").at("head").get<std::string>();
    h.key_id = j.at("key_id").get<std::string>();
    h.cipher = j.at("cipher").get<std::string>();
    if (format >= 2 && !j.at("conf_d").is_null()) {
      h.conf_d = j.at("conf_d").get<std::vector<std::string>>();
    }
  } catch (const std::exception& e) {
    throw BackupError(ErrorKind::not_a_backup,
                      file.string() + " has a damaged header (" + e.what() + ")");
  }
  if (o.header.cipher != "AES-256-GCM") {
    throw BackupError(ErrorKind::not_a_backup,
                      file.string() + " uses cipher '" + o.header.cipher +
                          "'; this estate-edge reads AES-256-GCM");
  }
  o.aad.assign(fixed.begin(), fixed.end());
  o.aad += json_text;
  return o;
}

void check_integrity(store::Database& db, const char* pragma, const std::string& what) {
  auto st = db.prepare(pragma);
  std::vector<std::string> problems;
  while (st.step()) {
    auto line = st.text(0);
    if (line != "ok" && problems.size() < 5) problems.push_back(line);
  }
  if (!problems.empty()) {
    std::string msg = what + " failed " + pragma + ":";
    for (const auto& p : problems) msg += " " + p + ";";
    throw BackupError(ErrorKind::corrupted, msg);
  }
}

void fsync_file(const fs::path& p) {
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) throw BackupError(ErrorKind::io, sys_error("fsync", p));
}

std::int64_t outbox_counter(store::Database& db) {
  return db.query_int("SELECT value FROM counters WHERE name = 'outbox_seq'", 0);
}


// ---- conf.d drop-ins -----------------------------------------------------------------------

constexpr const char* conf_table = "backup_conf_d";

struct ConfFile {
  std::string name;
  std::uint32_t mode = 0640;
  std::string owner;  // user and group names, as on the gateway that made the backup
  std::string group;
  std::string content;
};

// What the config loader reads from conf.d (config::load_site_config): *.yaml and *.yml.
bool is_dropin(const fs::directory_entry& e) {
  std::error_code ec;
  const auto ext = e.path().extension();
  return (ext == ".yaml" || ext == ".yml") && e.is_regular_file(ec);
}

bool safe_name(const std::string& n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == std::string::npos &&
         n.find('\0') == std::string::npos;
}

std::vector<std::string> dropins_in(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return names;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (is_dropin(*it)) names.push_back(it->path().filename().string());
  }
  if (ec) throw BackupError(ErrorKind::io, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

std::string user_of(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return pw.pw_name;
  return std::to_string(uid);
}

std::string group_of(gid_t gid) {
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &found) == 0 && found) return gr.gr_name;
  return std::to_string(gid);
}

std::optional<uid_t> uid_named(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found) {
    return pw.pw_uid;
  }
  return std::nullopt;
}

std::optional<gid_t> gid_named(const std::string& name) {
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) == 0 && found) {
    return gr.gr_gid;
  }
  return std::nullopt;
}

std::vector<ConfFile> read_conf_d(const fs::path& dir) {
  std::vector<ConfFile> files;
  for (const auto& name : dropins_in(dir)) {
    const fs::path p = dir / name;
    Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw BackupError(ErrorKind::io, sys_error("cannot read", p));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw BackupError(ErrorKind::io, sys_error("stat", p));
    ConfFile f;
    f.name = name;
    f.mode = st.st_mode & 0777;
    f.owner = user_of(st.st_uid);
    f.group = group_of(st.st_gid);
    f.content.resize(static_cast<std::size_t>(st.st_size));
    f.content.resize(read_some(fd.get(), f.content.data(), f.content.size(), p));
    files.push_back(std::move(f));
  }
  return files;
}

// Holds the store's write lock (BEGIN IMMEDIATE on a connection of its own) for as long as it
// lives. A list version's drop-in is written inside the version's transaction, so while no
// transaction can be open the files in conf.d agree with the committed store. A store this user
// may only read cannot be locked: then there is no lock (and no daemon of this user writing).
// The writer waits on its busy timeout while the files are read (milliseconds).
class StoreWriteLock {
 public:
  explicit StoreWriteLock(const fs::path& db_file) : db_(db_file, store::OpenMode::read_write) {
    // SQLite's own busy handler sleeps ever longer between tries and can miss, again and again,
    // the moment between two of a busy writer's transactions; polling every half millisecond
    // finds it. At most a minute.
    sqlite3_busy_handler(
        db_.handle(),
        [](void*, int tries) {
          if (tries >= 120'000) return 0;
          ::usleep(500);
          return 1;
        },
        nullptr);
    const int rc = sqlite3_exec(db_.handle(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) {
      locked_ = true;
      return;
    }
    if ((rc & 0xFF) == SQLITE_READONLY) return;
    throw BackupError(ErrorKind::io, "cannot hold " + db_file.string() +
                                         " still to read conf.d beside it: " +
                                         sqlite3_errstr(rc));
  }
  ~StoreWriteLock() {
    if (locked_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  StoreWriteLock(const StoreWriteLock&) = delete;
  StoreWriteLock& operator=(const StoreWriteLock&) = delete;

 private:
  store::Database db_;
  bool locked_ = false;
};

// The backup's drop-ins written beside their final names in conf.d (".<name>.restore", which the
// config loader never reads), and the drop-ins found there kept in the state directory; nothing
// in conf.d changes until commit(). Removes what it staged unless committed.
class ConfStage {
 public:
  ConfStage(const std::vector<ConfFile>& files, const fs::path& conf_d, const fs::path& state_dir)
      : dir_(conf_d), previous_(state_dir / "conf.d.pre-restore") {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) {
      throw BackupError(ErrorKind::io, "cannot create " + dir_.string() + ": " + ec.message() +
                                           "; nothing was restored");
    }
    struct stat dst {};
    if (::stat(dir_.c_str(), &dst) != 0) throw BackupError(ErrorKind::io, sys_error("stat", dir_));
    for (const auto& f : files) {
      const fs::path tmp = dir_ / ("." + f.name + ".restore");
      staged_.push_back({tmp, dir_ / f.name});
      Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (fd.get() < 0) throw BackupError(ErrorKind::io, sys_error("cannot create", tmp));
      write_all(fd.get(), f.content.data(), f.content.size(), tmp);
      // Only root can give a file away: as root the drop-in gets the owner it had (the service
      // user, by name: uids differ between machines), else conf.d's owner; anyone else
      // restores it as their own, which is the service user when it runs the restore.
      if (::geteuid() == 0) {
        const uid_t uid = uid_named(f.owner).value_or(dst.st_uid);
        const gid_t gid = gid_named(f.group).value_or(dst.st_gid);
        if (::fchown(fd.get(), uid, gid) != 0) {
          throw BackupError(ErrorKind::io, sys_error("chown", tmp));
        }
      }
      if (::fchmod(fd.get(), static_cast<mode_t>(f.mode & 0777)) != 0) {
        throw BackupError(ErrorKind::io, sys_error("chmod", tmp));
      }
      if (::fsync(fd.get()) != 0) throw BackupError(ErrorKind::io, sys_error("fsync", tmp));
      fd.close_checked(tmp);
      keep_.insert(f.name);
    }
    found_ = dropins_in(dir_);
    fs::remove_all(previous_, ec);
    if (ec || !fs::create_directory(previous_, ec) || ec) {
      throw BackupError(ErrorKind::io, "cannot make " + previous_.string() + ": " +
                                           ec.message() + "; nothing was restored");
    }
    fs::permissions(previous_, fs::perms::owner_all, ec);
    for (const auto& name : found_) {
      fs::copy_file(dir_ / name, previous_ / name, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        throw BackupError(ErrorKind::io, "cannot keep " + (dir_ / name).string() + " in " +
                                             previous_.string() + ": " + ec.message() +
                                             "; nothing was restored");
      }
      fsync_file(previous_ / name);
    }
    sync_directory(previous_);
  }
  ~ConfStage() {
    std::error_code ec;
    if (!committed_) {
      for (const auto& s : staged_) fs::remove(s.tmp, ec);
    }
  }
  ConfStage(const ConfStage&) = delete;
  ConfStage& operator=(const ConfStage&) = delete;

  // Each drop-in takes its name with one rename (whole, never half written); those the backup
  // did not have are removed. Returns the names removed.
  std::vector<std::string> commit() {
    committed_ = true;
    std::vector<std::string> removed;
    for (const auto& s : staged_) {
      if (::rename(s.tmp.c_str(), s.target.c_str()) != 0) {
        throw BackupError(ErrorKind::io, sys_error("cannot move into place", s.target));
      }
    }
    for (const auto& name : found_) {
      if (keep_.count(name)) continue;
      if (::unlink((dir_ / name).c_str()) != 0 && errno != ENOENT) {
        throw BackupError(ErrorKind::io, sys_error("cannot remove", dir_ / name));
      }
      removed.push_back(name);
    }
    sync_directory(dir_);
    return removed;
  }
  const fs::path& previous() const { return previous_; }

 private:
  struct Staged {
    fs::path tmp;
    fs::path target;
  };
  fs::path dir_;
  fs::path previous_;
  std::vector<Staged> staged_;
  std::set<std::string> keep_;
  std::vector<std::string> found_;
  bool committed_ = false;
};

}  // namespace

nlohmann::ordered_json header_json(const Header& h) {
  nlohmann::ordered_json j;
  j["format"] = h.format;
  j["gateway"] = h.gateway;
  j["created"] = h.created;
  j["schema"] = h.schema;
  j["outbox_seq"] = h.outbox_seq;
  j["audit"] = {{"count", h.audit_count}, {"head", h.audit_head}};
  j["key_id"] = h.key_id;
  j["cipher"] = h.cipher;
  j["conf_d"] = h.conf_d ? nlohmann::ordered_json(*h.conf_d) : nlohmann::ordered_json(nullptr);
  return j;
}

Header read_header(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw BackupError(ErrorKind::io, sys_error("cannot open", file));
  return open_backup(fd.get(), file).header;
}

BackupResult create_backup(const fs::path& state_dir, const fs::path& out, const privacy::Key& key,
                           const std::string& created, const BackupOptions& options) {
  const fs::path db_file = store::store_file(state_dir);
  if (!fs::exists(db_file)) {
    throw BackupError(ErrorKind::no_store, "no store in " + state_dir.string() +
                                               " (has the daemon ever run there?)");
  }
  TempFile plain(state_dir, ".backup");
  Header h;
  h.created = created;
  h.key_id = privacy::key_id(key, key_purpose);
  try {
    // Read-write so a WAL left by a stopped daemon can be read; SQLite falls back to read-only
    // when the file is not writable. Nothing is written through this connection.
    store::Database src(db_file, store::OpenMode::read_write);
    store::Database dst(plain.path(), store::OpenMode::read_write);
    std::vector<ConfFile> conf;
    const bool with_conf = !options.conf_d.empty();
    if (with_conf) {
      // The snapshot's read transaction starts while no write transaction can be open, and
      // conf.d is read before any can open again: both show the same committed state.
      StoreWriteLock lock(db_file);
      src.exec("BEGIN");
      src.query_int("SELECT count(*) FROM sqlite_master");
      conf = read_conf_d(options.conf_d);
    }
    sqlite3_backup* b = sqlite3_backup_init(dst.handle(), "main", src.handle(), "main");
    if (!b) throw BackupError(ErrorKind::io, std::string("backup: ") + sqlite3_errmsg(dst.handle()));
    // One step of -1 pages copies the whole database inside one read transaction on the
    // source: a consistent snapshot, while the daemon's writer keeps committing to the WAL.
    // Busy only happens while another connection recovers the WAL; retry briefly then.
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt < 500; ++attempt) {
      rc = sqlite3_backup_step(b, -1);
      if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
      sqlite3_sleep(10);
    }
    int finish = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE || finish != SQLITE_OK) {
      throw BackupError(ErrorKind::io, "backup of " + db_file.string() + " failed: " +
                                           sqlite3_errstr(rc != SQLITE_DONE ? rc : finish));
    }
    if (with_conf) {
      src.exec("COMMIT");
      dst.exec(std::string("CREATE TABLE ") + conf_table +
               "(name TEXT PRIMARY KEY, mode INTEGER NOT NULL, owner TEXT NOT NULL, "
               "grp TEXT NOT NULL, content TEXT NOT NULL)");
      store::Transaction tx(dst);
      auto ins = dst.prepare(std::string("INSERT INTO ") + conf_table +
                             "(name, mode, owner, grp, content) VALUES(?1, ?2, ?3, ?4, ?5)");
      h.conf_d.emplace();
      for (const auto& f : conf) {
        ins.bind(1, f.name).bind(2, static_cast<std::int64_t>(f.mode)).bind(3, f.owner);
        ins.bind(4, f.group).bind(5, f.content).run();
        ins.reset();
        h.conf_d->push_back(f.name);
      }
      tx.commit();
      for (auto& f : conf) std::fill(f.content.begin(), f.content.end(), '\0');
    }
    check_integrity(dst, "PRAGMA quick_check", "the snapshot of " + db_file.string());
    h.gateway = meta_value(dst, "gateway_id");
    {
      auto st = dst.prepare("SELECT area, version FROM schema_versions ORDER BY area");
      while (st.step()) h.schema[st.text(0)] = st.int64(1);
    }
    h.outbox_seq = outbox_counter(dst);
    if (has_table(dst, "audit_head")) {
      auto head = audit::head(dst);
      h.audit_count = head.count;
      h.audit_head = head.hash;
    }
  } catch (const store::Error& e) {
    throw BackupError(ErrorKind::io, std::string("backup: ") + e.what());
  }
  if (h.gateway.empty()) {
    throw BackupError(ErrorKind::no_store,
                      db_file.string() + " has no gateway id yet (the daemon binds it on start)");
  }

  const std::string json_text = to_json(h);
  std::string aad(magic.begin(), magic.end());
  aad.push_back(static_cast<char>(format_version >> 8));
  aad.push_back(static_cast<char>(format_version & 0xFF));
  const auto len = static_cast<std::uint32_t>(json_text.size());
  for (int shift : {24, 16, 8, 0}) aad.push_back(static_cast<char>((len >> shift) & 0xFF));
  aad += json_text;

  std::array<unsigned char, nonce_size> nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    throw BackupError(ErrorKind::io, "OpenSSL RAND_bytes failed: no randomness for the nonce");
  }
  fs::path tmp_out = out;
  tmp_out += ".tmp";
  Fd in(::open(plain.path().c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) throw BackupError(ErrorKind::io, sys_error("cannot open", plain.path()));
  Fd o(::open(tmp_out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (o.get() < 0) throw BackupError(ErrorKind::io, sys_error("cannot create", tmp_out));
  struct RemoveOnError {
    fs::path p;
    bool keep = false;
    ~RemoveOnError() {
      std::error_code ec;
      if (!keep) fs::remove(p, ec);
    }
  } cleanup{tmp_out};

  CipherCtx c;
  int outl = 0;
  ossl(EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr), "EncryptInit");
  ossl(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr),
       "set IV length");
  ossl(EVP_EncryptInit_ex(c.ctx, nullptr, nullptr, key.data(), nonce.data()), "EncryptInit key");
  ossl(EVP_EncryptUpdate(c.ctx, nullptr, &outl, reinterpret_cast<const unsigned char*>(aad.data()),
                         static_cast<int>(aad.size())),
       "AAD");
  write_all(o.get(), aad.data(), aad.size(), tmp_out);
  write_all(o.get(), nonce.data(), nonce.size(), tmp_out);
  std::vector<unsigned char> buf(chunk), enc(chunk + 32);
  for (;;) {
    std::size_t n = read_some(in.get(), buf.data(), buf.size(), plain.path());
    if (n == 0) break;
    ossl(EVP_EncryptUpdate(c.ctx, enc.data(), &outl, buf.data(), static_cast<int>(n)), "encrypt");
    write_all(o.get(), enc.data(), static_cast<std::size_t>(outl), tmp_out);
  }
  ossl(EVP_EncryptFinal_ex(c.ctx, enc.data(), &outl), "EncryptFinal");
  write_all(o.get(), enc.data(), static_cast<std::size_t>(outl), tmp_out);
  std::array<unsigned char, tag_size> tag{};
  ossl(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag.size()), tag.data()),
       "get tag");
  write_all(o.get(), tag.data(), tag.size(), tmp_out);
  std::fill(buf.begin(), buf.end(), 0);
  if (::fsync(o.get()) != 0) throw BackupError(ErrorKind::io, sys_error("fsync", tmp_out));
  o.close_checked(tmp_out);
  if (::rename(tmp_out.c_str(), out.c_str()) != 0) {
    throw BackupError(ErrorKind::io, sys_error("rename to", out));
  }
  cleanup.keep = true;
  try {
    sync_directory(out.parent_path().empty() ? fs::path(".") : out.parent_path());
  } catch (const std::exception& e) {
    throw BackupError(ErrorKind::io, e.what());
  }
  BackupResult r;
  r.header = h;
  std::error_code ec;
  r.bytes = fs::file_size(out, ec);
  return r;
}

RestoreResult restore_backup(const fs::path& file, const fs::path& state_dir,
                             const privacy::Key& key, const RestoreOptions& options) {
  std::shared_ptr<StateLock> lock;
  try {
    lock = acquire_state_lock(state_dir);
  } catch (const StateLockError& e) {
    throw BackupError(ErrorKind::locked, std::string(e.what()) + "; nothing was restored");
  }
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw BackupError(ErrorKind::io, sys_error("cannot open", file));
  Opened opened = open_backup(fd.get(), file);
  RestoreResult r;
  r.header = opened.header;
  const Header& h = opened.header;

  for (const auto& [area, version] : h.schema) {
    auto areas = store::schema_areas();
    // A structured binding is named through a capture clang < 16 accepts.
    auto it = std::find_if(areas.begin(), areas.end(),
                           [&name = area](const auto& a) { return a.name == name; });
    if (it == areas.end() || version > static_cast<std::int64_t>(it->migrations.size())) {
      throw BackupError(ErrorKind::newer_schema,
                        file.string() + " was made by a newer estate-edge (schema area '" + area +
                            "' version " + std::to_string(version) +
                            "); upgrade estate-edge before restoring it");
    }
  }
  const bool restore_conf = h.conf_d.has_value() && !options.store_only;
  const std::string given = privacy::key_id(key, key_purpose);
  if (given != h.key_id) {
    throw BackupError(ErrorKind::wrong_key,
                      "wrong key: " + file.string() + " was encrypted with key id " + h.key_id +
                          ", the given key has id " + given + "; nothing was restored");
  }

  // Decrypt into a private file beside the store (same filesystem: the final rename is atomic).
  TempFile plain(state_dir, ".restore");
  {
    Fd o(::open(plain.path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (o.get() < 0) throw BackupError(ErrorKind::io, sys_error("cannot open", plain.path()));
    std::array<unsigned char, nonce_size> nonce{};
    if (read_some(fd.get(), nonce.data(), nonce.size(), file) != nonce.size()) {
      throw BackupError(ErrorKind::corrupted, file.string() + " is truncated");
    }
    std::uint64_t remaining = opened.file_size - opened.aad.size() - nonce_size - tag_size;
    CipherCtx c;
    int outl = 0;
    ossl(EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr), "DecryptInit");
    ossl(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr),
         "set IV length");
    ossl(EVP_DecryptInit_ex(c.ctx, nullptr, nullptr, key.data(), nonce.data()), "DecryptInit key");
    ossl(EVP_DecryptUpdate(c.ctx, nullptr, &outl,
                           reinterpret_cast<const unsigned char*>(opened.aad.data()),
                           static_cast<int>(opened.aad.size())),
         "AAD");
    std::vector<unsigned char> buf(chunk), dec(chunk + 32);
    while (remaining > 0) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, chunk));
      if (read_some(fd.get(), buf.data(), want, file) != want) {
        throw BackupError(ErrorKind::corrupted, file.string() + " is truncated");
      }
      remaining -= want;
      ossl(EVP_DecryptUpdate(c.ctx, dec.data(), &outl, buf.data(), static_cast<int>(want)),
           "decrypt");
      write_all(o.get(), dec.data(), static_cast<std::size_t>(outl), plain.path());
    }
    std::array<unsigned char, tag_size> tag{};
    if (read_some(fd.get(), tag.data(), tag.size(), file) != tag.size()) {
      throw BackupError(ErrorKind::corrupted, file.string() + " is truncated");
    }
    ossl(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()), tag.data()),
         "set tag");
    if (EVP_DecryptFinal_ex(c.ctx, dec.data(), &outl) != 1) {
      throw BackupError(ErrorKind::corrupted,
                        file.string() + " failed authentication (AES-GCM tag): the file was "
                        "altered or damaged after it was written; nothing was restored");
    }
    std::fill(dec.begin(), dec.end(), 0);
    if (::fsync(o.get()) != 0) throw BackupError(ErrorKind::io, sys_error("fsync", plain.path()));
    o.close_checked(plain.path());
  }

  // The store being replaced: its gateway and counter. Its WAL is folded in so nothing of it
  // is left in a side file once the new store takes its name.
  const fs::path db_file = store::store_file(state_dir);
  std::string unreadable;
  if (fs::exists(db_file)) {
    r.replaced_existing = true;
    try {
      store::Database old(db_file, store::OpenMode::read_write);
      r.replaced_gateway = meta_value(old, "gateway_id");
      r.replaced_seq = outbox_counter(old);
      old.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (const std::exception& e) {
      unreadable = e.what();
    }
  }
  if (!options.force_gateway) {
    if (!unreadable.empty()) {
      throw BackupError(ErrorKind::gateway_mismatch,
                        "the store in " + state_dir.string() + " cannot be read (" + unreadable +
                            "), so its gateway id cannot be checked against the backup's ('" +
                            h.gateway + "'); pass --force-gateway to restore anyway");
    }
    if (r.replaced_existing && !r.replaced_gateway.empty() && r.replaced_gateway != h.gateway) {
      throw BackupError(ErrorKind::gateway_mismatch,
                        "the backup belongs to gateway '" + h.gateway + "' but " +
                            state_dir.string() + " belongs to gateway '" + r.replaced_gateway +
                            "'; pass --force-gateway to replace it anyway; nothing was restored");
    }
  }
  try {
    if (auto hw = read_highwater(state_dir)) r.highwater = *hw;
  } catch (const std::exception& e) {
    throw BackupError(ErrorKind::io, std::string(e.what()) +
                                         " (fix or remove it, and give the platform's last seq "
                                         "with --min-seq); nothing was restored");
  }

  std::vector<ConfFile> conf;
  try {
    store::Database db(plain.path(), store::OpenMode::read_write);
    check_integrity(db, "PRAGMA integrity_check", "the store inside " + file.string());
    const std::string inner_gateway = meta_value(db, "gateway_id");
    if (inner_gateway != h.gateway) {
      throw BackupError(ErrorKind::corrupted,
                        file.string() + ": the header names gateway '" + h.gateway +
                            "' but the store inside belongs to '" + inner_gateway + "'");
    }
    if (has_table(db, conf_table)) {
      if (h.conf_d) {
        auto st = db.prepare(std::string("SELECT name, mode, owner, grp, content FROM ") +
                             conf_table + " ORDER BY name");
        while (st.step()) {
          ConfFile f{st.text(0), static_cast<std::uint32_t>(st.int64(1)), st.text(2), st.text(3),
                     st.text(4)};
          if (!safe_name(f.name)) {
            throw BackupError(ErrorKind::corrupted,
                              file.string() + " holds a drop-in with an impossible name");
          }
          conf.push_back(std::move(f));
        }
      }
      db.exec(std::string("DROP TABLE ") + conf_table);
    }
    if (h.conf_d) {
      std::vector<std::string> names;
      for (const auto& f : conf) names.push_back(f.name);
      auto listed = *h.conf_d;
      std::sort(listed.begin(), listed.end());
      if (names != listed) {
        throw BackupError(ErrorKind::corrupted,
                          file.string() + ": the header's conf.d drop-ins differ from those "
                          "inside");
      }
    }
    r.restored_seq = outbox_counter(db);
    r.resumed_seq = std::max({r.restored_seq, r.replaced_seq, r.highwater, options.min_seq});
    // Brings the restored store to this build's schema (what the daemon would do on start),
    // so the audit entry below has its tables even when the backup predates them.
    store::migrate(db);
    const std::string ts = options.ts.empty() ? store::iso8601_now(0) : options.ts;
    {
      store::Transaction tx(db);
      db.prepare("UPDATE counters SET value = ?1 WHERE name = 'outbox_seq'")
          .bind(1, r.resumed_seq)
          .run();
      nlohmann::json detail;
      detail["backup_created"] = h.created;
      detail["backup_file"] = file.filename().string();
      detail["backup_audit_count"] = h.audit_count;
      detail["restored_outbox_seq"] = r.restored_seq;
      detail["replaced_outbox_seq"] = r.replaced_seq;
      detail["highwater"] = r.highwater;
      detail["min_seq"] = options.min_seq;
      detail["resumed_outbox_seq"] = r.resumed_seq;
      detail["replaced_gateway"] = r.replaced_gateway;
      detail["forced"] = options.force_gateway;
      detail["conf_d"] = h.conf_d ? nlohmann::json(*h.conf_d) : nlohmann::json(nullptr);
      detail["conf_d_restored"] = restore_conf;
      audit::Entry e;
      e.ts = ts;
      e.kind = "backup.restore";
      e.actor = options.actor;
      e.subject = "store:" + state_dir.string();
      e.detail_json = detail.dump();
      auto entry = audit::append(db, e);
      record::AuditRestore note;
      note.ts = ts;
      note.backup_created = h.created;
      note.restored_seq = r.restored_seq;
      note.resumed_after_seq = r.resumed_seq;
      note.audit_count = entry.seq;
      note.audit_head = entry.hash;
      record::append(db, h.gateway, note);
      tx.commit();
    }
    // One self-contained file: no WAL beside it when it takes the store's name.
    db.exec("PRAGMA journal_mode=DELETE");
  } catch (const store::Error& e) {
    throw BackupError(ErrorKind::corrupted,
                      "the store inside " + file.string() + " cannot be used: " + e.what());
  }
  fsync_file(plain.path());

  // Checked last, so a wrong key, a damaged file or another gateway's backup says so first.
  if (restore_conf && options.conf_d.empty()) {
    std::string held = "holds conf.d as it was (no drop-ins)";
    if (!h.conf_d->empty()) {
      held = "holds the conf.d drop-ins";
      for (std::size_t i = 0; i < h.conf_d->size(); ++i) {
        held += (i ? ", " : " ") + (*h.conf_d)[i];
      }
    }
    throw BackupError(ErrorKind::conf_d_needed,
                      file.string() + " " + held +
                          ", which its list versions refer to: give the site config (--config) "
                          "so conf.d is restored with the store, or --store-only to leave it as "
                          "it is; nothing was restored");
  }

  // The drop-ins are written beside their names before the store is replaced, so a full disk
  // or a read-only conf.d refuses the restore with nothing changed.
  std::optional<ConfStage> stage;
  if (restore_conf) {
    try {
      stage.emplace(conf, options.conf_d, state_dir);
    } catch (const BackupError&) {
      throw;
    } catch (const std::exception& e) {
      throw BackupError(ErrorKind::io, std::string(e.what()) + "; nothing was restored");
    }
  }
  for (auto& f : conf) std::fill(f.content.begin(), f.content.end(), '\0');

  // Replace: keep the old store as .pre-restore (a hard link, so the name swap below stays a
  // single atomic rename), move aside a WAL that could not be folded in, then rename.
  std::error_code ec;
  const fs::path pre = fs::path(db_file.string() + ".pre-restore");
  if (r.replaced_existing) {
    fs::remove(pre, ec);
    if (::link(db_file.c_str(), pre.c_str()) != 0) {
      fs::copy_file(db_file, pre, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        throw BackupError(ErrorKind::io, "cannot keep the replaced store as " + pre.string() +
                                             ": " + ec.message() + "; nothing was restored");
      }
    }
    const fs::path wal = fs::path(db_file.string() + "-wal");
    if (fs::exists(wal) && fs::file_size(wal, ec) > 0) {
      fs::rename(wal, fs::path(pre.string() + "-wal"), ec);
    } else {
      fs::remove(wal, ec);
    }
    fs::remove(fs::path(db_file.string() + "-shm"), ec);
  }
  if (::rename(plain.path().c_str(), db_file.c_str()) != 0) {
    throw BackupError(ErrorKind::io, sys_error("cannot move the restored store to", db_file));
  }
  plain.release();
  try {
    sync_directory(state_dir);
    raise_highwater(state_dir, r.resumed_seq + 1);
  } catch (const std::exception& e) {
    throw BackupError(ErrorKind::io, std::string("restored, but: ") + e.what());
  }
  if (stage) {
    r.conf_d_previous = stage->previous();
    try {
      r.conf_d_removed = stage->commit();
    } catch (const std::exception& e) {
      throw BackupError(ErrorKind::io, "the store was restored, but not every drop-in of " +
                                           options.conf_d.string() + ": " + e.what() +
                                           "; the drop-ins found before are in " +
                                           stage->previous().string());
    }
    r.conf_d_restored = true;
    r.conf_d_files = *h.conf_d;
    std::sort(r.conf_d_files.begin(), r.conf_d_files.end());
  }
  return r;
}

}  // namespace estate::backup
