#include "share/share.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sstream>

#include "core/sanitize.h"
#include "net/line_reader.h"
#include "share/wire.h"

namespace authrelay::share {

Result<ShareSettings> LoadShareSettings(const MainCf& cf) {
  ShareSettings s;
  s.enabled = cf.GetBool("authrelay_connection_reuse");
  s.directory = std::string(Trim(cf.Get("authrelay_connection_reuse_directory")));
  struct {
    const char* name;
    long* out;
  } times[] = {{"smtp_connection_reuse_time_limit", &s.time_limit},
               {"smtp_connection_cache_time_limit", &s.idle_limit},
               {"authrelay_time_limit", &s.client_limit}};
  for (auto& t : times) {
    auto v = cf.GetTime(t.name);
    if (!v.ok()) return v.failure();
    *t.out = std::max(1L, v.value());
  }
  auto count = cf.GetInt("smtp_connection_reuse_count_limit");
  if (!count.ok()) return count.failure();
  s.count_limit = std::max(0L, count.value());
  auto slots = cf.GetInt("authrelay_destination_concurrency_limit");
  if (!slots.ok()) return slots.failure();
  s.slots = std::clamp(slots.value(), 1L, 1000L);
  if (s.directory.empty()) s.enabled = false;
  return s;
}

std::string FileIdentity(const std::string& path) {
  if (path.empty()) return "";
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return path + " absent";
  return path + " " + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + " " +
         std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

void KeyMaterial::Add(std::string_view label, std::string_view value) {
  // Length-prefixed, so no two different field lists give the same text.
  std::string field = std::string(label) + "=" + std::to_string(value.size()) + ":" + std::string(value) + "\n";
  text_ = Secret(text_.Reveal() + field);
  Secret wipe(std::move(field));
}

namespace {

constexpr const char* kKeyFile = "key";
// How long a live, idle holder may take to answer a request.
constexpr std::chrono::milliseconds kHolderAnswerTime{2000};

Status CheckDirectory(const std::string& dir) {
  struct stat st{};
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT || mkdir(dir.c_str(), 0700) != 0 || lstat(dir.c_str(), &st) != 0) {
      return Failure("4.3.0", "connection sharing directory unusable",
                     "cannot create " + dir + ": " + std::strerror(errno) +
                         " (create it 0700 for the pipe user, or set authrelay_connection_reuse = no)");
    }
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    return Failure("4.3.0", "connection sharing directory unusable",
                   dir + " must be a directory owned by uid " + std::to_string(geteuid()) +
                       " with mode 0700 (chown and chmod it, or set authrelay_connection_reuse = no)");
  }
  return {};
}

// The random secret for the keyed hash: created once, 0600, atomically.
Result<std::string> ReadOrCreateKey(const std::string& dir) {
  std::string path = dir + "/" + kKeyFile;
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      char buf[64];
      struct stat st{};
      ssize_t n = fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077) == 0 ? read(fd, buf, sizeof buf)
                                                                                           : -1;
      close(fd);
      if (n == 32) {
        std::string key(buf, 32);
        explicit_bzero(buf, sizeof buf);
        return key;
      }
      return Failure("4.3.0", "connection sharing key unusable",
                     path + " is not a 32-byte file of ours with mode 0600 (remove it; a new one is made)");
    }
    if (errno != ENOENT) break;
    char key[32];
    if (getrandom(key, sizeof key, 0) != static_cast<ssize_t>(sizeof key)) break;
    std::string tmp = path + ".tmp" + std::to_string(getpid());
    int w = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w < 0) break;
    bool ok = write(w, key, sizeof key) == static_cast<ssize_t>(sizeof key);
    ok = fsync(w) == 0 && ok;
    close(w);
    explicit_bzero(key, sizeof key);
    // link() fails if another delivery made the key first: then use theirs.
    if (ok && link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) ok = false;
    unlink(tmp.c_str());
  }
  return Failure("4.3.0", "connection sharing key unusable",
                 "cannot read or create " + path + ": " + std::strerror(errno));
}

std::optional<HeldStatus> ParseStatus(const std::string& words) {
  HeldStatus s;
  std::istringstream in(words);
  std::string w;
  int seen = 0;
  while (in >> w) {
    auto eq = w.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string k = w.substr(0, eq), v = w.substr(eq + 1);
    auto num = [&]() { return std::strtol(v.c_str(), nullptr, 10); };
    ++seen;
    if (k == "pid") s.pid = num();
    else if (k == "use") s.use = num();
    else if (k == "age") s.age = num();
    else if (k == "server") s.server = v;
    else if (k == "pipelining") s.caps.pipelining = v == "1";
    else if (k == "8bitmime") s.caps.eightbitmime = v == "1";
    else if (k == "smtputf8") s.caps.smtputf8 = v == "1";
    else if (k == "size") s.caps.size = v == "1";
    else if (k == "sizelimit") {
      if (v != "-") s.caps.size_limit = std::strtoull(v.c_str(), nullptr, 10);
    } else if (k == "protocol") s.tls.protocol = v;
    else if (k == "cipher") s.tls.cipher = v;
    else if (k == "bits") s.tls.bits = static_cast<int>(num());
    else if (k == "verified") s.tls.verified = v == "1";
    else if (k == "trusted") s.tls.trusted = v == "1";
    else --seen;
  }
  if (seen < 14 || s.use < 1) return std::nullopt;
  return s;
}

// Connects to one slot and sends the request; the holder's answer line in
// *answer. Removes a stale socket (nobody listening) if it is still the
// same file we looked at.
// Holders must run as `owner`: the delivering user, or for root's --check
// the owner of the directory (root never talks to a socket of anyone else,
// such as a root daemon's behind a planted directory symlink).
UniqueFd Dial(const std::string& path, const char* request, std::string* answer, Deadline deadline,
              uid_t owner = geteuid()) {
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) return UniqueFd();
  if (!S_ISSOCK(st.st_mode) || st.st_uid != owner) {
    log::Warning("connection sharing: ignoring " + path + ": not a socket of uid " + std::to_string(owner));
    return UniqueFd();
  }
  sockaddr_un sa;
  if (!FillUnixAddress(path, sa)) return UniqueFd();
  // Non-blocking: a holder whose backlog is full answers EAGAIN at once
  // instead of making us wait.
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return UniqueFd();
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno == ECONNREFUSED) {
      struct stat again{};
      if (lstat(path.c_str(), &again) == 0 && again.st_ino == st.st_ino && again.st_dev == st.st_dev) {
        unlink(path.c_str());
        log::Debug("connection sharing: removed stale socket " + path);
      }
    }
    return UniqueFd();
  }
  if (!PeerIs(fd.get(), owner)) {
    log::Warning("connection sharing: ignoring " + path + ": its holder is not uid " + std::to_string(owner));
    return UniqueFd();
  }
  // A holder answers within a poll cycle; one that does not (stopped, or
  // stuck in a slow write to its server) counts as busy.
  if (WriteAll(fd.get(), request, deadline) != IoStatus::kOk) return UniqueFd();
  if (!ReadHelloLine(fd.get(), *answer, deadline)) return UniqueFd();
  return fd;
}

}  // namespace

// ---- shared with the holder (share/wire.h) ----------------------------------

std::string SlotPath(const ShareSettings& cfg, const std::string& name, long slot) {
  return cfg.directory + "/" + name + "." + std::to_string(slot);
}

bool FillUnixAddress(const std::string& path, sockaddr_un& sa) {
  std::memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) return false;
  std::memcpy(sa.sun_path, path.data(), path.size());
  return true;
}

// The listener (or client) at the other end runs as `uid`.
bool PeerIs(int fd, uid_t uid) {
  ucred cred{};
  socklen_t len = sizeof cred;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == uid;
}
bool PeerIsUs(int fd) { return PeerIs(fd, geteuid()); }

IoStatus WaitFd(int fd, short events, Deadline deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    int rc = poll(&p, 1, deadline.RemainingMs());
    if (rc > 0) return IoStatus::kOk;
    if (rc == 0) return IoStatus::kTimeout;
    if (errno != EINTR) return IoStatus::kError;
  }
}

IoStatus WriteAll(int fd, std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      IoStatus s = WaitFd(fd, POLLOUT, deadline);
      if (s != IoStatus::kOk) return s;
      continue;
    }
    return IoStatus::kEof;
  }
  return IoStatus::kOk;
}

// Reads one '\n'-terminated line (at most 4 KB) without consuming more.
bool ReadHelloLine(int fd, std::string& line, Deadline deadline) {
  line.clear();
  while (line.size() < 4096) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    if (n == 1) {
      if (c == '\n') return true;
      line.push_back(c);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    if (WaitFd(fd, POLLIN, deadline) != IoStatus::kOk) return false;
  }
  return false;
}

// Status words: key=value separated by spaces; values never contain spaces
// (the server name and TLS names have none; commas join lists).
std::string FormatStatus(const HeldStatus& s) {
  std::ostringstream o;
  o << "pid=" << s.pid << " use=" << s.use << " age=" << s.age << " server=" << s.server
    << " pipelining=" << s.caps.pipelining << " 8bitmime=" << s.caps.eightbitmime << " smtputf8=" << s.caps.smtputf8
    << " size=" << s.caps.size << " sizelimit=" << (s.caps.size_limit ? std::to_string(*s.caps.size_limit) : "-")
    << " protocol=" << (s.tls.protocol.empty() ? "-" : s.tls.protocol)
    << " cipher=" << (s.tls.cipher.empty() ? "-" : s.tls.cipher) << " bits=" << s.tls.bits
    << " verified=" << s.tls.verified << " trusted=" << s.tls.trusted;
  return o.str();
}

Result<std::string> KeyName(const std::string& directory, const KeyMaterial& material) {
  if (Status dir = CheckDirectory(directory); !dir.ok()) return dir.failure();
  auto key = ReadOrCreateKey(directory);
  if (!key.ok()) return key.failure();
  Secret k(std::move(key).value());
  // 128 bits of the MAC name the socket: enough against collisions, and a
  // short path (sun_path holds 107 bytes).
  return Hex(HmacSha256(k.Reveal(), material.text()).substr(0, 16));
}

// ---- client side -----------------------------------------------------------

IoStatus HeldTransport::ReadLine(std::string& line, std::size_t max_len, Deadline deadline) {
  line.clear();
  bool truncated = false;
  for (;;) {
    if (TakeLine(buf_, pos_, line, max_len, truncated)) return IoStatus::kOk;
    buf_.clear();
    pos_ = 0;
    char tmp[16384];
    ssize_t n = recv(fd_.get(), tmp, sizeof tmp, MSG_DONTWAIT);
    if (n > 0) {
      buf_.append(tmp, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      error_ = "the shared session ended (holder closed the socket)";
      return IoStatus::kEof;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      error_ = std::strerror(errno);
      return IoStatus::kEof;
    }
    IoStatus s = WaitFd(fd_.get(), POLLIN, deadline);
    if (s == IoStatus::kTimeout) error_ = "timed out";
    if (s != IoStatus::kOk) return s;
  }
}

IoStatus HeldTransport::WriteRaw(std::string_view data, Deadline deadline) {
  IoStatus s = WriteAll(fd_.get(), data, deadline);
  if (s == IoStatus::kTimeout) error_ = "timed out";
  else if (s != IoStatus::kOk) error_ = "the shared session ended (holder closed the socket)";
  return s;
}

IoStatus HeldTransport::Write(std::string_view data, Deadline deadline) {
  // Frames of at most 1 MB; the header is big-endian length.
  while (!data.empty()) {
    std::size_t n = std::min<std::size_t>(data.size(), 1 << 20);
    std::string frame(4, '\0');
    frame[0] = static_cast<char>(n >> 24);
    frame[1] = static_cast<char>(n >> 16);
    frame[2] = static_cast<char>(n >> 8);
    frame[3] = static_cast<char>(n);
    frame.append(data.substr(0, n));
    if (IoStatus s = WriteRaw(frame, deadline); s != IoStatus::kOk) return s;
    data.remove_prefix(n);
  }
  return IoStatus::kOk;
}

void HeldTransport::MarkClean(Deadline deadline) { (void)WriteRaw(std::string(4, '\0'), deadline); }

bool SlotFree(const ShareSettings& cfg, const std::string& name) {
  for (long i = 0; i < cfg.slots; ++i) {
    struct stat st{};
    if (lstat(SlotPath(cfg, name, i).c_str(), &st) != 0) return true;
  }
  return false;
}

std::unique_ptr<HeldTransport> ConnectHeld(const ShareSettings& cfg, const std::string& name, Deadline deadline) {
  // One budget for the whole search, not one per slot: holders that accept
  // and never answer (stopped, wedged) in every slot must not eat the
  // delivery's deadline; a direct connection stays possible after it.
  Deadline search = Deadline::After(kHolderAnswerTime).Min(deadline);
  for (long i = 0; i < cfg.slots && !search.Expired(); ++i) {
    std::string path = SlotPath(cfg, name, i);
    std::string answer;
    UniqueFd fd = Dial(path, "USE\n", &answer, search);
    if (fd.get() < 0) continue;
    if (answer.rfind("OK ", 0) != 0) {
      log::Debug("connection sharing: " + path + " is busy");
      continue;
    }
    auto status = ParseStatus(answer.substr(3));
    if (!status) continue;  // closing fd without the clean frame: the holder drops the session
    return std::make_unique<HeldTransport>(std::move(fd), std::move(*status));
  }
  return nullptr;
}

std::vector<HeldStatus> ListHeld(const ShareSettings& cfg) {
  std::vector<HeldStatus> out;
  // The directory itself, not what a symlink in its place points to; for
  // root, its owner is the uid every holder in it must have.
  struct stat dir{};
  if (lstat(cfg.directory.c_str(), &dir) != 0 || !S_ISDIR(dir.st_mode) || (dir.st_mode & 077) != 0) return out;
  if (geteuid() != 0 && dir.st_uid != geteuid()) return out;
  int dfd = open(cfg.directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return out;
  DIR* d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return out;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 2 && n.find('.') != std::string::npos && n.find(".tmp") == std::string::npos) names.push_back(n);
  }
  closedir(d);
  for (const auto& n : names) {
    std::string answer;
    UniqueFd fd = Dial(cfg.directory + "/" + n, "STAT\n", &answer, Deadline::After(kHolderAnswerTime), dir.st_uid);
    if (fd.get() < 0) continue;
    if (answer.rfind("OK ", 0) == 0) {
      if (auto s = ParseStatus(answer.substr(3))) out.push_back(*s);
    }
  }
  return out;
}

void PrintHeld(std::ostream& out, const MainCf& cf) {
  auto cfg = LoadShareSettings(cf);
  if (!cfg.ok()) {
    out << "connection sharing: " << cfg.failure().text() << "\n";
    return;
  }
  if (!cfg.value().enabled) {
    out << "connection sharing: off (authrelay_connection_reuse = no)\n";
    return;
  }
  auto held = ListHeld(cfg.value());
  out << "connection sharing: on, directory " << cfg.value().directory << ", " << held.size()
      << " held session(s)\n";
  for (const auto& h : held) {
    // What a holder says is printed as text: root may be reading it.
    out << "  held session to " << Printable(h.server, 300) << " by pid " << h.pid << ": "
        << Printable(h.tls.protocol, 40) << " " << Printable(h.tls.cipher, 80)
        << (h.tls.verified ? ", verified" : "") << ", used " << h.use << " time(s), open " << h.age << "s\n";
  }
}

}  // namespace authrelay::share
