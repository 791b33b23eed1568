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
#include "net/connection.h"
#include "tls/tls_client.h"

namespace authrelay::share {

Result<ShareSettings> LoadShareSettings(const MainCf& cf) {
  ShareSettings s;
  s.enabled = cf.GetBool("authrelay_connection_reuse");
  s.directory = std::string(Trim(cf.Get("authrelay_connection_reuse_directory")));
  struct {
    const char* name;
    long* out;
  } times[] = {{"smtp_connection_reuse_time_limit", &s.time_limit},
               {"smtp_connection_cache_time_limit", &s.idle_limit}};
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

// ---- SHA-256 (FIPS 180-4) -------------------------------------------------

namespace {

constexpr std::array<std::uint32_t, 64> kK = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline std::uint32_t Rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void Compress(std::array<std::uint32_t, 8>& h, const unsigned char* block) {
  std::uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (std::uint32_t(block[4 * i]) << 24) | (std::uint32_t(block[4 * i + 1]) << 16) |
           (std::uint32_t(block[4 * i + 2]) << 8) | std::uint32_t(block[4 * i + 3]);
  }
  for (int i = 16; i < 64; ++i) {
    std::uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    std::uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; ++i) {
    std::uint32_t t1 = hh + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    std::uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

}  // namespace

std::string Sha256(std::string_view data) {
  std::array<std::uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::size_t full = data.size() / 64;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  for (std::size_t i = 0; i < full; ++i) Compress(h, p + 64 * i);
  unsigned char tail[128] = {};
  std::size_t rest = data.size() - 64 * full;
  std::memcpy(tail, p + 64 * full, rest);
  tail[rest] = 0x80;
  std::size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
  std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  Compress(h, tail);
  if (tail_len == 128) Compress(h, tail + 64);
  std::string out(32, '\0');
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<char>(h[i] >> (24 - 8 * j));
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string k(key.size() > 64 ? Sha256(key) : std::string(key));
  k.resize(64, '\0');
  std::string inner(64, '\0'), outer(64, '\0');
  for (int i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  Secret wipe_key(std::move(k));
  Secret inner_msg(inner + std::string(data));
  std::string result = Sha256(outer + Sha256(inner_msg.Reveal()));
  Secret wipe_inner(std::move(inner)), wipe_outer(std::move(outer));
  return result;
}

std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
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
    while (pos_ < buf_.size()) {
      char c = buf_[pos_++];
      if (c == '\n') {
        if (!line.empty() && line.back() == '\r' && !truncated) line.pop_back();
        return IoStatus::kOk;
      }
      if (line.size() < max_len) line.push_back(c);
      else truncated = true;
    }
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

// ---- the holder ------------------------------------------------------------

namespace {

struct Pending {
  std::unique_ptr<TlsClient> tls;
  std::unique_ptr<Connection> conn;
  ShareSettings cfg;
  std::string name;
  HeldStatus status;
  log::Options log_options;
  std::chrono::steady_clock::time_point opened;
};

std::optional<Pending>& ThePending() {
  static std::optional<Pending> p;
  return p;
}

class Holder {
 public:
  explicit Holder(Pending& p) : p_(p) {}
  void Run();

 private:
  bool Claim();
  // Serves one client; true if the session is clean for the next one.
  bool Relay(int client);
  // Something arrived from the server while no client was attached.
  void ServerSpokeWhileIdle();
  void Quit();
  void Release();
  long Age() const {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - p_.opened).count());
  }

  Pending& p_;
  UniqueFd listen_;
  std::string path_;
  struct stat claimed_{};
};

bool Holder::Claim() {
  listen_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (listen_.get() < 0) return false;
  // Bound and listening under a private name first, then linked to a slot
  // name: a client never finds a slot socket that is not yet listening (it
  // would take it for stale), and link() never replaces another holder's.
  std::string tmp = p_.cfg.directory + "/" + p_.name + ".tmp" + std::to_string(getpid());
  sockaddr_un sa;
  if (!FillUnixAddress(tmp, sa)) return false;
  unlink(tmp.c_str());
  if (bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(listen_.get(), 16) != 0) {
    unlink(tmp.c_str());
    return false;
  }
  bool linked = false;
  for (long i = 0; i < p_.cfg.slots && !linked; ++i) {
    std::string path = SlotPath(p_.cfg, p_.name, i);
    if (link(tmp.c_str(), path.c_str()) == 0) {
      path_ = path;
      linked = true;
    }
  }
  unlink(tmp.c_str());
  if (linked) lstat(path_.c_str(), &claimed_);
  return linked;
}

void Holder::Release() {
  if (path_.empty()) return;
  struct stat now{};
  if (lstat(path_.c_str(), &now) == 0 && now.st_ino == claimed_.st_ino && now.st_dev == claimed_.st_dev) {
    unlink(path_.c_str());
  }
  path_.clear();
}

void Holder::Quit() {
  // As smtp(8) ends a cached connection: QUIT, and a short wait for 221.
  Deadline d = Deadline::AfterSeconds(5);
  if (p_.conn->Write("QUIT\r\n", d) != IoStatus::kOk) return;
  std::string reply;
  (void)p_.conn->ReadLine(reply, 512, d);
}

void Holder::ServerSpokeWhileIdle() {
  std::string got;
  IoStatus s = p_.conn->ReadAvailable(got, Deadline::AfterSeconds(5));
  if (s == IoStatus::kOk) {
    log::Info("shared session to " + p_.status.server + " closed: the server said " +
              Printable(got.substr(0, got.find('\r')), 200) + " while idle");
  } else {
    log::Info("shared session to " + p_.status.server + " closed by the server while idle (" +
              p_.conn->last_error() + ")");
  }
}

bool Holder::Relay(int client) {
  std::string in;        // framed bytes from the client, not yet parsed
  std::string from_server;
  bool clean = false;
  bool relayed = false;  // anything sent to the server for this client
  // The client has its own per-command deadlines; this bounds a client that
  // stops reading and writing without closing.
  const int kStallMs = 1800 * 1000;
  for (;;) {
    pollfd fds[3] = {{client, POLLIN, 0}, {p_.conn->fd(), POLLIN, 0}, {listen_.get(), POLLIN, 0}};
    bool server_ready = p_.conn->HasBufferedInput();
    int rc = server_ready ? 1 : poll(fds, 3, kStallMs);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    if (server_ready || (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      from_server.clear();
      IoStatus s = p_.conn->ReadAvailable(from_server, Deadline::AfterSeconds(60));
      if (s != IoStatus::kOk) return false;  // closing the client socket tells it
      if (WriteAll(client, from_server, Deadline::AfterSeconds(60)) != IoStatus::kOk) return false;
      if (clean) return false;  // the server spoke after a clean end: unknown state
      continue;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char tmp[65536];
      ssize_t n = recv(client, tmp, sizeof tmp, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      // A client that leaves before sending anything (it gave up waiting
      // for our answer) changed nothing: the session is still clean.
      if (n <= 0) return (clean || !relayed) && in.empty();
      if (clean) return false;  // nothing may follow the clean frame
      in.append(tmp, static_cast<std::size_t>(n));
      std::size_t pos = 0;
      while (in.size() - pos >= 4) {
        std::size_t len = (std::size_t(static_cast<unsigned char>(in[pos])) << 24) |
                          (std::size_t(static_cast<unsigned char>(in[pos + 1])) << 16) |
                          (std::size_t(static_cast<unsigned char>(in[pos + 2])) << 8) |
                          std::size_t(static_cast<unsigned char>(in[pos + 3]));
        if (len == 0) {
          clean = true;
          pos += 4;
          if (pos != in.size()) return false;
          break;
        }
        if (len > (1u << 20)) return false;
        if (in.size() - pos - 4 < len) break;
        relayed = true;
        if (p_.conn->Write(std::string_view(in).substr(pos + 4, len), Deadline::AfterSeconds(600)) != IoStatus::kOk) {
          return false;
        }
        pos += 4 + len;
      }
      in.erase(0, pos);
      continue;
    }
    if (fds[2].revents & POLLIN) {
      // One client at a time: a second one is told to go elsewhere.
      UniqueFd other(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (other.get() >= 0) (void)WriteAll(other.get(), "BUSY\n", Deadline::AfterSeconds(1));
    }
  }
}

void Holder::Run() {
  if (!Claim()) {
    Quit();
    return;
  }
  log::Info("holding the session to " + p_.status.server + " for later deliveries (" + path_ + ")");
  const char* why = "";
  long uses = 1;
  for (;;) {
    if (p_.cfg.count_limit > 0 && uses >= p_.cfg.count_limit) {
      why = "reuse count limit reached (smtp_connection_reuse_count_limit)";
      break;
    }
    long left_ms = (p_.cfg.time_limit - Age()) * 1000;
    if (left_ms <= 0) {
      why = "reuse time limit reached (smtp_connection_reuse_time_limit)";
      break;
    }
    pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {p_.conn->fd(), POLLIN, 0}};
    bool server_ready = p_.conn->HasBufferedInput();
    int rc = server_ready ? 1 : poll(fds, 2, static_cast<int>(std::min<long>(left_ms, p_.cfg.idle_limit * 1000)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      why = "poll failed";
      break;
    }
    if (rc == 0) {
      why = left_ms <= p_.cfg.idle_limit * 1000 ? "reuse time limit reached (smtp_connection_reuse_time_limit)"
                                                : "idle (smtp_connection_cache_time_limit)";
      break;
    }
    if (server_ready || (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      Release();
      ServerSpokeWhileIdle();
      return;
    }
    if (!(fds[0].revents & POLLIN)) continue;
    UniqueFd client(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (client.get() < 0) continue;
    // Root (--check) may ask how the session is; only our uid may use it.
    const bool from_root = !PeerIsUs(client.get()) && PeerIs(client.get(), 0);
    if (!from_root && !PeerIsUs(client.get())) continue;
    std::string request;
    if (!ReadHelloLine(client.get(), request, Deadline::AfterSeconds(5))) continue;
    p_.status.age = Age();
    if (request == "STAT") {
      p_.status.use = uses;
      (void)WriteAll(client.get(), "OK " + FormatStatus(p_.status) + "\n", Deadline::AfterSeconds(1));
      continue;
    }
    if (request != "USE" || from_root) continue;
    p_.status.use = uses + 1;
    if (WriteAll(client.get(), "OK " + FormatStatus(p_.status) + "\n", Deadline::AfterSeconds(5)) != IoStatus::kOk) {
      continue;  // the client went away before it sent anything to the server
    }
    ++uses;
    if (!Relay(client.get())) {
      // A transaction that did not end cleanly (the client died, timed out,
      // or the server hung up): the session's state is unknown, so it ends
      // here without another word to the server.
      Release();
      log::Info("shared session to " + p_.status.server + " ended after " + std::to_string(uses) +
                " deliveries (the last one did not end cleanly or the server closed)");
      return;
    }
  }
  Release();
  Quit();
  log::Info("shared session to " + p_.status.server + " closed after " + std::to_string(uses) + " deliveries: " + why);
}

}  // namespace

void OfferSession(std::unique_ptr<TlsClient> tls, std::unique_ptr<Connection> conn, const ShareSettings& cfg,
                  std::string name, std::string server, const Capabilities& caps, const TlsInfo& info,
                  log::Options log_options) {
  Pending p;
  p.tls = std::move(tls);
  p.conn = std::move(conn);
  p.cfg = cfg;
  p.name = std::move(name);
  p.status.pid = 0;
  p.status.server = std::move(server);
  p.status.caps = caps;
  p.status.tls = info;
  p.status.tls.chain.clear();
  p.log_options = std::move(log_options);
  p.opened = std::chrono::steady_clock::now();
  ThePending() = std::move(p);
}

void DetachHolder() {
  auto& pending = ThePending();
  if (!pending) return;
  Pending& p = *pending;
  pid_t child = fork();
  if (child != 0) {
    // This process (the delivery) exits soon: its copy of the session must
    // go without a TLS close_notify, which would end the holder's session.
    int fd = p.conn->fd();
    (void)p.conn.release();
    (void)p.tls.release();
    pending.reset();
    close(fd);
    if (child > 0) {
      int st;
      while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
      }
    }
    return;
  }
  // The first child: a new session (no controlling terminal, not in
  // pipe(8)'s process group), then the holder as its child, so that it is
  // not a session leader and is reparented away from the delivery.
  setsid();
  if (fork() != 0) _exit(0);
  closelog();
  int keep = p.conn->fd();
  if (keep > 0) syscall(SYS_close_range, 0u, static_cast<unsigned>(keep - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u);
  for (int i = 0; i < 3; ++i) {
    if (i == keep) continue;
    int null = open("/dev/null", O_RDWR);
    if (null >= 0 && null != i) {
      dup2(null, i);
      close(null);
    }
  }
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (chdir("/") != 0) {
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  log::Options lo = p.log_options;
  lo.to_stderr = false;
  log::Init(lo);
  log::SetQueueId("");
  p.status.pid = getpid();
  Holder(p).Run();
  p.conn.reset();
  _exit(0);
}

}  // namespace authrelay::share
