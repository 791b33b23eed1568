#include "config/own_settings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "log/log.h"

namespace authrelay {
namespace {

constexpr std::string_view kPrefix = "authrelay_";

// The suffixes Postfix appends to a master.cf service name to make the
// per-transport parameters it knows (postconf -d shows them once the
// service exists; the set is the same in Postfix 3.x for every transport
// that the queue manager feeds, pipe(8) included).
constexpr std::array<std::string_view, 17> kPostfixServiceSuffixes = {
    "time_limit",
    "delivery_slot_cost",
    "delivery_slot_discount",
    "delivery_slot_loan",
    "destination_concurrency_failed_cohort_limit",
    "destination_concurrency_limit",
    "destination_concurrency_negative_feedback",
    "destination_concurrency_positive_feedback",
    "destination_rate_delay",
    "destination_recipient_limit",
    "extra_recipient_limit",
    "initial_destination_concurrency",
    "minimum_delivery_slots",
    "recipient_limit",
    "recipient_refill_delay",
    "recipient_refill_limit",
    "transport_rate_delay",
};

}  // namespace

bool IsPostfixServiceParameter(std::string_view name) {
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view suffix = name.substr(kPrefix.size());
  return std::find(kPostfixServiceSuffixes.begin(), kPostfixServiceSuffixes.end(), suffix) !=
         kPostfixServiceSuffixes.end();
}

bool IsOwnParameter(std::string_view name) {
  return name.size() > kPrefix.size() && name.substr(0, kPrefix.size()) == kPrefix &&
         !IsPostfixServiceParameter(name);
}

Status ApplyOwnConfig(const std::string& config_dir, MainCf& cf, std::vector<std::string>* own_in_main_cf) {
  if (own_in_main_cf) {
    for (const std::string& name : cf.ExplicitNames()) {
      if (IsOwnParameter(name)) own_in_main_cf->push_back(name);
    }
  }
  const std::string path = config_dir + "/" + std::string(kOwnConfigFile);
  // Opened once and checked by what was opened (a symlink is judged by its
  // target): whoever can write this file chooses the proxy and the TLS
  // policy every mail goes out with, so only its owner may.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    // No file: nothing to apply. A symlink to nothing is a broken install
    // (its settings, a proxy among them, would silently not apply): defer.
    const int open_errno = errno;
    struct stat link{};
    if (open_errno == ENOENT && lstat(path.c_str(), &link) != 0) return Status();
    errno = open_errno;
    return Failure("4.3.5",
                   "mail system configuration error: cannot read " + std::string(kOwnConfigFile) + " (" +
                       std::strerror(errno) + ")",
                   "cannot open " + path + ": " + std::strerror(errno) +
                       " (it must be readable by the pipe user, like main.cf: chmod 644 " + path + ")");
  }
  struct stat st{};
  std::string unsafe;
  std::string fix = "chown root " + path + " && chmod 644 " + path;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    unsafe = "is not a regular file";
    fix = "make " + path + " a regular file (main.cf syntax), or remove it";
  } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    unsafe = "is writable by group or others (anyone who can write it can send the mail through their own proxy)";
  } else if (st.st_uid != 0 && st.st_uid != geteuid()) {
    unsafe = "is owned by uid " + std::to_string(st.st_uid) + ", neither root nor the user authrelay runs as";
  }
  if (!unsafe.empty()) {
    ::close(fd);
    return Failure("4.3.5", "mail system configuration error: " + std::string(kOwnConfigFile) + " " + unsafe,
                   path + " " + unsafe + ": " + fix);
  }
  std::string content;
  char buf[8192];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Failure("4.3.5", "mail system configuration error: cannot read " + std::string(kOwnConfigFile),
                     "read " + path + ": " + std::strerror(err));
    }
    content.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto own = MainCf::Parse(content, path);
  if (!own.ok()) return own.failure();
  for (const std::string& name : own.value().ExplicitNames()) {
    std::string why;
    if (IsPostfixServiceParameter(name)) {
      why = name + " is read by Postfix itself: set it in main.cf (postconf -e)";
    } else if (!IsOwnParameter(name)) {
      why = name + " is not an authrelay setting: Postfix parameters belong in main.cf, "
                   "per-transport overrides in the master.cf entry's argv as -o " + name + "=...";
    }
    if (!why.empty()) {
      return Failure("4.3.5", "mail system configuration error: " + std::string(kOwnConfigFile) + ": " + why,
                     path + ": " + why);
    }
    cf.Set(name, *own.value().Raw(name));
  }
  return Status();
}

std::string OwnInMainCfHint(const std::string& config_dir, const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return "main.cf sets authrelay's own " + std::string(names.size() == 1 ? "setting " : "settings ") + list +
         ", which makes every postconf run warn \"unused parameter\": move " +
         (names.size() == 1 ? "it" : "them") + " to " + config_dir + "/" + std::string(kOwnConfigFile) +
         " (same syntax; authrelay still reads main.cf, but " + std::string(kOwnConfigFile) + " wins)";
}

std::string StateDirectory(const std::string& tls_session_cache) {
  auto slash = tls_session_cache.rfind('/');
  if (slash == std::string::npos || slash == 0) return "";
  return tls_session_cache.substr(0, slash);
}

void LogOwnInMainCfHintOnce(const std::string& config_dir, const std::string& state_dir,
                            const std::vector<std::string>& names) {
  if (names.empty() || state_dir.empty()) return;
  struct stat st{};
  if (stat((config_dir + "/main.cf").c_str(), &st) != 0) return;
  const std::string identity = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
                               std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  const std::string marker = state_dir + "/main_cf_hint";
  {
    std::ifstream seen(marker);
    std::string line;
    if (seen && std::getline(seen, line) && line == identity) return;
  }
  std::ofstream out(marker, std::ios::trunc);
  if (!out) return;  // no state directory we can write: --check carries the hint
  out << identity << "\n";
  out.close();
  if (!out) return;
  log::Warning(OwnInMainCfHint(config_dir, names));
}

}  // namespace authrelay
