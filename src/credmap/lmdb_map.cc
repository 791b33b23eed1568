// lmdb: tables, opened as Postfix's slmdb does: one file, no lock file,
// read-only, with Postfix's fcntl() read lock around each transaction.
#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "core/sanitize.h"
#include "credmap/map.h"

namespace authrelay {
namespace {

struct EnvCloser {
  void operator()(MDB_env* e) const noexcept { mdb_env_close(e); }
};
struct TxnAborter {
  void operator()(MDB_txn* t) const noexcept { mdb_txn_abort(t); }
};

class FcntlReadLock {
 public:
  explicit FcntlReadLock(int fd) : fd_(fd) {}
  bool Acquire() {
    struct flock fl{};
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    while (fcntl(fd_, F_SETLKW, &fl) != 0) {
      if (errno != EINTR) return false;
    }
    return true;
  }
  ~FcntlReadLock() {
    struct flock fl{};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fcntl(fd_, F_SETLK, &fl);
    close(fd_);
  }
  FcntlReadLock(const FcntlReadLock&) = delete;
  FcntlReadLock& operator=(const FcntlReadLock&) = delete;

 private:
  int fd_;
};

class LmdbTable final : public LookupTable {
 public:
  LmdbTable(std::string spec, std::string path) : spec_(std::move(spec)), path_(std::move(path)) {}
  const std::string& spec() const override { return spec_; }

  Result<std::optional<Secret>> Lookup(std::string_view key) override {
    auto all = LookupAll({std::string(key)});
    if (!all.ok()) return all.failure();
    return std::move(all.value().front());
  }

  // One open, one lock and one read transaction for every key.
  Result<std::vector<std::optional<Secret>>> LookupAll(const std::vector<std::string>& keys) override {
    std::vector<std::optional<Secret>> out;
    Status st = WithReadTxn([&](MDB_txn* txn, MDB_dbi dbi) -> Status {
      out.clear();
      for (const std::string& key : keys) {
        std::string folded = Lowercase(key);
        std::optional<Secret> found;
        for (std::size_t len : {folded.size() + 1, folded.size()}) {
          if (len == 0 || len > 511) continue;  // LMDB's key size limit
          MDB_val k{len, folded.data()};
          MDB_val v{};
          int rc = mdb_get(txn, dbi, &k, &v);
          if (rc == 0) {
            found = ValueOf(v);
            break;
          }
          if (rc != MDB_NOTFOUND) return TableReadFailure(spec_, std::string("read ") + path_ + ": " + mdb_strerror(rc));
        }
        out.push_back(std::move(found));
      }
      return {};
    });
    if (!st.ok()) return st.failure();
    return out;
  }

  Result<std::vector<Secret>> Values() override {
    std::vector<Secret> out;
    Status st = WithReadTxn([&](MDB_txn* txn, MDB_dbi dbi) -> Status {
      out.clear();
      MDB_cursor* cursor = nullptr;
      int rc = mdb_cursor_open(txn, dbi, &cursor);
      if (rc != 0) return TableReadFailure(spec_, std::string("read ") + path_ + ": " + mdb_strerror(rc));
      MDB_val k{}, v{};
      while ((rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) == 0) out.push_back(ValueOf(v));
      mdb_cursor_close(cursor);
      if (rc != MDB_NOTFOUND) return TableReadFailure(spec_, std::string("read ") + path_ + ": " + mdb_strerror(rc));
      return {};
    });
    if (!st.ok()) return st.failure();
    return out;
  }

 private:
  static Secret ValueOf(const MDB_val& v) {
    const char* p = static_cast<const char*>(v.mv_data);
    std::size_t n = v.mv_size;
    if (n > 0 && p[n - 1] == '\0') --n;
    return Secret(std::string(p, strnlen(p, n)));
  }

  // Opens the file under postmap's read lock and runs fn in one read
  // transaction (again once if the writer grew the map meanwhile).
  Status WithReadTxn(const std::function<Status(MDB_txn*, MDB_dbi)>& fn) {
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return TableReadFailure(spec_, "open " + path_ + ": " + std::strerror(errno));
    FcntlReadLock lock(fd);
    if (!lock.Acquire()) return TableReadFailure(spec_, "lock " + path_ + ": " + std::strerror(errno));
    struct stat st{};
    fstat(fd, &st);

    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw); rc != 0) return TableReadFailure(spec_, mdb_strerror(rc));
    std::unique_ptr<MDB_env, EnvCloser> env(raw);
    // slmdb: at least lmdb_map_size (16 MiB), more if the file is larger.
    std::size_t map_size = std::max<std::size_t>(16u << 20, static_cast<std::size_t>(st.st_size) + 10240);
    mdb_env_set_mapsize(env.get(), map_size);
    int rc = mdb_env_open(env.get(), path_.c_str(), MDB_NOSUBDIR | MDB_NOLOCK | MDB_RDONLY, 0644);
    if (rc != 0) {
      return TableReadFailure(spec_, "cannot open " + path_ + " as an LMDB database: " + mdb_strerror(rc),
                              "rebuild it with: postmap " + spec_);
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      MDB_txn* txn_raw = nullptr;
      rc = mdb_txn_begin(env.get(), nullptr, MDB_RDONLY, &txn_raw);
      if (rc == MDB_MAP_RESIZED && attempt == 0) {
        mdb_env_set_mapsize(env.get(), 0);
        continue;
      }
      if (rc != 0) return TableReadFailure(spec_, std::string("read ") + path_ + ": " + mdb_strerror(rc));
      std::unique_ptr<MDB_txn, TxnAborter> txn(txn_raw);
      MDB_dbi dbi;
      rc = mdb_dbi_open(txn.get(), nullptr, 0, &dbi);
      if (rc != 0) return TableReadFailure(spec_, std::string("read ") + path_ + ": " + mdb_strerror(rc));
      return fn(txn.get(), dbi);
    }
    return TableReadFailure(spec_, "read " + path_ + ": map resized repeatedly");
  }

  std::string spec_;
  std::string path_;
};

}  // namespace

std::unique_ptr<LookupTable> MakeLmdbTable(std::string spec, std::string path) {
  return std::make_unique<LmdbTable>(std::move(spec), std::move(path));
}

}  // namespace authrelay
