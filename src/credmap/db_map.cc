// hash: and btree: tables: the Berkeley DB files postmap writes.
#include <db.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "core/sanitize.h"
#include "log/log.h"
#include "credmap/map.h"

namespace authrelay {
namespace {

struct DbCloser {
  void operator()(DB* db) const noexcept { db->close(db, 0); }
};

class FdLock {
 public:
  explicit FdLock(int fd) : fd_(fd) {}
  ~FdLock() {
    if (fd_ >= 0) {
      flock(fd_, LOCK_UN);
      close(fd_);
    }
  }
  FdLock(const FdLock&) = delete;
  FdLock& operator=(const FdLock&) = delete;

 private:
  int fd_;
};

class DbTable final : public LookupTable {
 public:
  DbTable(std::string spec, std::string path, bool btree)
      : spec_(std::move(spec)), path_(std::move(path)), btree_(btree) {}

  const std::string& spec() const override { return spec_; }

  Result<std::optional<Secret>> Lookup(std::string_view key) override {
    auto all = LookupAll({std::string(key)});
    if (!all.ok()) return all.failure();
    return std::move(all.value().front());
  }

  Result<std::vector<std::optional<Secret>>> LookupAll(const std::vector<std::string>& keys) override {
    std::vector<std::optional<Secret>> out;
    Status st = WithOpenDb([&](DB* db) -> Status {
      for (const std::string& key : keys) {
        auto one = Get(db, key);
        if (!one.ok()) return one.failure();
        out.push_back(std::move(one).value());
      }
      return {};
    });
    if (!st.ok()) return st.failure();
    return out;
  }

  Result<std::vector<Secret>> Values() override {
    std::vector<Secret> out;
    Status st = WithOpenDb([&](DB* db) -> Status {
      DBC* cursor = nullptr;
      if (int rc = db->cursor(db, nullptr, &cursor, 0); rc != 0) {
        return TableReadFailure(spec_, "read " + path_ + ": " + db_strerror(rc));
      }
      DBT k{}, v{};
      int rc;
      while ((rc = cursor->get(cursor, &k, &v, DB_NEXT)) == 0) {
        const char* p = static_cast<const char*>(v.data);
        std::size_t n = v.size;
        if (n > 0 && p[n - 1] == '\0') --n;
        out.emplace_back(std::string(p, strnlen(p, n)));
      }
      cursor->close(cursor);
      if (rc != DB_NOTFOUND) return TableReadFailure(spec_, "read " + path_ + ": " + db_strerror(rc));
      return {};
    });
    if (!st.ok()) return st.failure();
    return out;
  }

 private:
  // Opens the file under postmap's shared lock and runs fn on it.
  Status WithOpenDb(const std::function<Status(DB*)>& fn) {
    // Postfix's writer (postmap) rewrites the file in place under an
    // exclusive flock(); our shared lock spans open and get, so we see the
    // whole old table or the whole new one.
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return TableReadFailure(spec_, "open " + path_ + ": " + std::strerror(errno));
    FdLock lock(fd);
    if (flock(fd, LOCK_SH) != 0) return TableReadFailure(spec_, "lock " + path_ + ": " + std::strerror(errno));

    DB* raw = nullptr;
    if (int rc = db_create(&raw, nullptr, 0); rc != 0) {
      return TableReadFailure(spec_, std::string("db_create: ") + db_strerror(rc));
    }
    std::unique_ptr<DB, DbCloser> db(raw);
    // Berkeley DB prints its errors to stderr by default; ours is Postfix's
    // bounce text. Send them to the log instead.
    db->set_errcall(db.get(), [](const DB_ENV*, const char*, const char* msg) {
      log::Warning(std::string("Berkeley DB: ") + Printable(msg ? msg : "", 300));
    });
    int rc = db->open(db.get(), nullptr, path_.c_str(), nullptr, btree_ ? DB_BTREE : DB_HASH, DB_RDONLY, 0);
    if (rc != 0) {
      return TableReadFailure(spec_, "cannot open " + path_ + " as a " + (btree_ ? "btree" : "hash") +
                                         " database: " + db_strerror(rc),
                              "rebuild it with: postmap " + spec_);
    }
    return fn(db.get());
  }

  Result<std::optional<Secret>> Get(DB* db, std::string_view key) {
    std::string folded = Lowercase(key);
    // Try with the trailing NUL postmap writes by default, then without
    // (postmap -n).
    for (std::size_t len : {folded.size() + 1, folded.size()}) {
      DBT k{};
      DBT v{};
      k.data = folded.data();  // c_str() keeps the NUL at folded.size()
      k.size = static_cast<u_int32_t>(len);
      int rc = db->get(db, nullptr, &k, &v, 0);
      if (rc == 0) {
        const char* p = static_cast<const char*>(v.data);
        std::size_t n = v.size;
        if (n > 0 && p[n - 1] == '\0') --n;
        std::string value(p, strnlen(p, n));
        return std::optional<Secret>(Secret(std::move(value)));
      }
      if (rc != DB_NOTFOUND) {
        return TableReadFailure(spec_, "read " + path_ + ": " + db_strerror(rc));
      }
    }
    return std::optional<Secret>();
  }

  std::string spec_;
  std::string path_;
  bool btree_;
};

}  // namespace

std::unique_ptr<LookupTable> MakeDbTable(std::string spec, std::string path, bool btree) {
  return std::make_unique<DbTable>(std::move(spec), std::move(path), btree);
}

}  // namespace authrelay
