#include "credmap/map.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "core/list.h"
#include "core/sanitize.h"

namespace authrelay {

namespace {

// "user authrelay (uid 110, group authrelay)" for permission hints.
std::string RunningUser() {
  std::string user = std::to_string(geteuid());
  std::string group = std::to_string(getegid());
  if (passwd* pw = getpwuid(geteuid())) user = pw->pw_name;
  if (::group* gr = getgrgid(getegid())) group = gr->gr_name;
  return "user " + user + " (group " + group + ")";
}

}  // namespace

std::string TableFilePath(std::string_view type, std::string_view name) {
  if (type == "hash" || type == "btree") return std::string(name) + ".db";
  if (type == "lmdb") return std::string(name) + ".lmdb";
  return std::string(name);
}

Failure TableReadFailure(std::string_view spec, const std::string& detail, std::string fix) {
  // The status line may reach a bounce: name the table type and file name,
  // not the directory.
  std::string shown(spec);
  auto colon = shown.find(':');
  auto slash = shown.rfind('/');
  if (colon != std::string::npos && slash != std::string::npos && slash > colon) {
    shown = shown.substr(0, colon + 1) + shown.substr(slash + 1);
  }
  return Failure("4.3.0", "local data error: cannot read lookup table " + Printable(shown, 80), detail)
      .WithCause(Cause::kTableUnreadable)
      .WithFix(std::move(fix));
}

Result<std::unique_ptr<LookupTable>> OpenTable(std::string_view spec, std::vector<Notice>* warnings) {
  auto colon = spec.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Failure("4.3.5", "mail system configuration error: lookup table without a type",
                   "lookup table \"" + Printable(spec, 100) + "\" has no type: use type:name, e.g. hash:/etc/postfix/sasl_passwd");
  }
  std::string type(spec.substr(0, colon));
  std::string name(spec.substr(colon + 1));
  static const std::set<std::string> kSupported = {"hash", "btree", "lmdb", "texthash"};
  if (!kSupported.count(type)) {
    return Failure("4.3.5", "mail system configuration error: unsupported lookup table type " + Printable(type, 40),
                   "lookup table " + Printable(spec, 200) + ": type \"" + type +
                       "\" is not supported by authrelay; use hash:, btree:, lmdb: or texthash:");
  }
  if (name.empty() || name[0] != '/') {
    return Failure("4.3.5", "mail system configuration error: lookup table with a relative path",
                   "lookup table " + Printable(spec, 200) + ": use an absolute path");
  }
  std::string path = TableFilePath(type, name);
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) {
    int err = errno;
    std::string fix = err == ENOENT ? (type == "texthash" ? "create it" : "run: postmap " + std::string(spec))
                      : err == EACCES ? "make it and its directory readable by this user, e.g. chgrp the pipe user's group and chmod 640"
                                      : "";
    return TableReadFailure(spec, "cannot open " + path + ": " + std::strerror(err), std::move(fix));
  }
  if (access(path.c_str(), R_OK) != 0) {
    return TableReadFailure(spec, "cannot read " + path + " as " + RunningUser() + ": permission denied",
                            "pipe(8) runs authrelay with only the user= account's primary group: chgrp that group " +
                                path + "; chmod 640 " + path);
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return TableReadFailure(spec, "refusing " + path + ": it is group- or world-writable", "chmod go-w " + path);
  }
  if (warnings) {
    if (st.st_mode & S_IROTH) {
      warnings->push_back({"lookup table " + path + " is world-readable and may hold passwords", "chmod o-r " + path});
    }
    if (type != "texthash") {
      struct stat src{};
      if (stat(name.c_str(), &src) == 0 && src.st_mtime > st.st_mtime + 100) {
        warnings->push_back({"database " + path + " is older than source file " + name,
                             "run: postmap " + std::string(spec)});
      }
    }
  }
  std::string spec_s(spec);
  if (type == "hash" || type == "btree") return MakeDbTable(spec_s, path, type == "btree");
  if (type == "lmdb") return MakeLmdbTable(spec_s, path);
  return MakeTexthashTable(spec_s, path);
}

Result<TableList> TableList::Open(std::string_view parameter_name, std::string_view value,
                                  std::vector<Notice>* warnings) {
  TableList list;
  list.parameter_ = std::string(parameter_name);
  for (const std::string& spec : SplitList(value)) {
    auto t = OpenTable(spec, warnings);
    if (!t.ok()) return t.failure();
    list.tables_.push_back(std::move(t).value());
  }
  return list;
}

namespace {

Failure EmptyResult(const std::string& parameter, std::string_view key, const std::string& spec) {
  return Failure("4.3.5", "mail system configuration error: " + parameter + ": lookup of \"" +
                              Printable(key, 100) + "\" returns an empty string result",
                 parameter + ": lookup of \"" + Printable(key, 100) + "\" in " + spec +
                     " returns an empty string result (give it a value or remove the entry)");
}

}  // namespace

Result<std::optional<TableList::Hit>> TableList::Find(std::string_view key) {
  auto first = FindFirst({std::string(key)});
  if (!first.ok()) return first.failure();
  if (!first.value()) return std::optional<Hit>();
  return std::optional<Hit>(std::move(first.value()->hit));
}

Result<std::optional<TableList::FirstHit>> TableList::FindFirst(const std::vector<std::string>& keys) {
  // answers[t] is filled the first time the key-major walk reaches table t.
  std::vector<std::optional<std::vector<std::optional<Secret>>>> answers(tables_.size());
  for (std::size_t k = 0; k < keys.size(); ++k) {
    for (std::size_t t = 0; t < tables_.size(); ++t) {
      if (!answers[t]) {
        auto r = tables_[t]->LookupAll(std::vector<std::string>(keys.begin() + static_cast<long>(k), keys.end()));
        if (!r.ok()) return r.failure();
        // Pad so indexes stay those of `keys`.
        std::vector<std::optional<Secret>> all(k);
        for (auto& v : r.value()) all.push_back(std::move(v));
        answers[t] = std::move(all);
      }
      std::optional<Secret>& v = (*answers[t])[k];
      if (!v) continue;
      if (v->empty()) return EmptyResult(parameter_, keys[k], tables_[t]->spec());
      return std::optional<FirstHit>(FirstHit{k, Hit{std::move(*v), tables_[t]->spec()}});
    }
  }
  return std::optional<FirstHit>();
}

std::vector<std::pair<std::string, std::string>> ParsePostmapSource(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> entries;
  std::set<std::string> seen;
  std::vector<std::string> logical_lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == text.npos ? text.npos : nl - pos);
    pos = nl == text.npos ? text.size() : nl + 1;
    std::string_view t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    // As Postfix's readlline(): a continuation is appended as it stands.
    if ((line[0] == ' ' || line[0] == '\t') && !logical_lines.empty()) {
      logical_lines.back() += line;
    } else {
      logical_lines.emplace_back(line);
    }
  }
  for (auto& l : logical_lines) l = std::string(Trim(l));
  for (const std::string& l : logical_lines) {
    std::string key;
    std::size_t i = 0;
    if (l[0] == '"') {  // "quoted key" (Postfix 3.2+), stored in quoted form
      std::size_t end = 1;
      while (end < l.size() && l[end] != '"') end += (l[end] == '\\') ? 2 : 1;
      i = std::min(end + 1, l.size());
      key = l.substr(0, i);
    } else {
      while (i < l.size() && l[i] != ' ' && l[i] != '\t') ++i;
      key = l.substr(0, i);
    }
    std::string value(Trim(std::string_view(l).substr(i)));
    key = Lowercase(key);
    if (seen.insert(key).second) entries.emplace_back(key, value);
  }
  return entries;
}

Result<std::vector<TableList::Hit>> TableList::Values() {
  std::vector<Hit> out;
  for (auto& table : tables_) {
    auto values = table->Values();
    if (!values.ok()) return values.failure();
    for (Secret& v : values.value()) out.push_back(Hit{std::move(v), table->spec()});
  }
  return out;
}

}  // namespace authrelay
