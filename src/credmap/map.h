// Read-only Postfix lookup tables ("type:name"), read exactly as Postfix
// reads the files postmap writes (docs/DESIGN.md §5.1):
//   hash:/p, btree:/p  Berkeley DB file /p.db, flock(LOCK_SH) around access
//   lmdb:/p            LMDB file /p.lmdb, NOSUBDIR|NOLOCK|RDONLY, fcntl read lock
//   texthash:/p        the source file /p itself, parsed like postmap
// Keys are lowercased (postmap's default fold) and tried with, then
// without, a trailing NUL. Every lookup opens the file afresh under the
// shared lock, so a postmap rebuild (which takes the exclusive lock) is seen
// either wholly before or wholly after, never half-written.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/secret.h"

namespace authrelay {

class LookupTable {
 public:
  virtual ~LookupTable() = default;
  // nullopt = no such key. A Failure (4.3.0) = the table could not be read:
  // callers must defer, never treat that as "not found".
  virtual Result<std::optional<Secret>> Lookup(std::string_view key) = 0;
  // Every key at once, answers in the same order. Tables whose opening
  // costs (Berkeley DB: open, lock, read the meta page) do it once here.
  virtual Result<std::vector<std::optional<Secret>>> LookupAll(const std::vector<std::string>& keys) {
    std::vector<std::optional<Secret>> out;
    for (const std::string& k : keys) {
      auto r = Lookup(k);
      if (!r.ok()) return r.failure();
      out.push_back(std::move(r).value());
    }
    return out;
  }
  // Every value in the table (--check looks for OAuth token stores named
  // anywhere in it), read under the same lock as a lookup.
  virtual Result<std::vector<Secret>> Values() = 0;
  // "hash:/etc/postfix/sasl_passwd", for logs.
  virtual const std::string& spec() const = 0;
};

// Where the data lives for a "type:name" spec, e.g. "/etc/postfix/x.db".
std::string TableFilePath(std::string_view type, std::string_view name);

// Opens one table. Checks existence and permissions now (so --check can
// report them); warnings (world-readable, older than source) are appended.
// Unsupported types defer with a message naming the type.
Result<std::unique_ptr<LookupTable>> OpenTable(std::string_view spec, std::vector<Notice>* warnings);

// Several tables in one parameter value, asked in order for each key.
class TableList {
 public:
  static Result<TableList> Open(std::string_view parameter_name, std::string_view value,
                                std::vector<Notice>* warnings);
  // For tests and callers that build tables themselves.
  static TableList Of(std::string parameter_name, std::vector<std::unique_ptr<LookupTable>> tables) {
    TableList l;
    l.parameter_ = std::move(parameter_name);
    l.tables_ = std::move(tables);
    return l;
  }
  bool empty() const { return tables_.empty(); }
  // First table with the key wins, as Postfix's maps_find(). A found empty
  // value is a configuration error (Postfix: "lookup of X returns an empty
  // string result").
  struct Hit {
    Secret value;
    std::string table;
  };
  Result<std::optional<Hit>> Find(std::string_view key);
  // The first of several keys found, asked in Postfix's order (each key of
  // every table before the next key) but reading each table once; a table
  // is opened only when the search reaches it. key_index says which key.
  struct FirstHit {
    std::size_t key_index;
    Hit hit;
  };
  Result<std::optional<FirstHit>> FindFirst(const std::vector<std::string>& keys);
  const std::string& parameter() const { return parameter_; }
  // Every value of every table, with the table it came from.
  Result<std::vector<Hit>> Values();

 private:
  std::string parameter_;
  std::vector<std::unique_ptr<LookupTable>> tables_;
};

// Factories for each backend (map.cc dispatches to them).
std::unique_ptr<LookupTable> MakeDbTable(std::string spec, std::string path, bool btree);
std::unique_ptr<LookupTable> MakeLmdbTable(std::string spec, std::string path);
std::unique_ptr<LookupTable> MakeTexthashTable(std::string spec, std::string path);

// The public, path-free text for a failed table read; fix: how to mend it
// ("" if unknown), kept apart from the detail for --check.
Failure TableReadFailure(std::string_view spec, const std::string& detail, std::string fix = {});

// Parses postmap source text (key whitespace value; '#' comments; leading
// whitespace continues a line; "quoted keys"). First duplicate wins. Keys
// are lowercased. Exposed for texthash and for tests.
std::vector<std::pair<std::string, std::string>> ParsePostmapSource(std::string_view text);

}  // namespace authrelay
