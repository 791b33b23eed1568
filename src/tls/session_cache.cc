#include "tls/session_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "core/base64.h"
#include "core/unique_fd.h"
#include "log/log.h"

namespace authrelay {
namespace {

constexpr std::string_view kHeader = "# authrelay TLS session cache v1: do not edit\n";

struct Line {
  std::string key;
  long long expires = 0;
  std::string der_base64;
};

// Sessions carry secrets: use the file only if nobody else could have
// written or read it.
bool SafeToUse(int fd, const std::string& path) {
  struct stat st{};
  if (fstat(fd, &st) != 0) return false;
  std::string why;
  if (!S_ISREG(st.st_mode)) why = "not a regular file";
  else if (st.st_uid != geteuid()) why = "owned by uid " + std::to_string(st.st_uid) + ", not by uid " + std::to_string(geteuid());
  else if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    why = std::string("mode ") + mode + ", not 0600";
  }
  if (why.empty()) return true;
  log::Warning("ignoring the TLS session cache " + path + ": " + why +
               " (remove it; authrelay recreates it with mode 0600)");
  return false;
}

// A line's own check value: a line spliced from two writes never passes.
std::string Check(const std::string& key, long long expires, const std::string& der_base64) {
  return Sha256Hex(key + " " + std::to_string(expires) + " " + der_base64, 8);
}

std::string ReadAll(int fd) {
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > TlsSessionCache::kMaxBytes) return {};  // not ours, or damaged: start afresh
  }
  return text;
}

// Lines that do not parse (a write cut short, a foreign file) are skipped.
std::vector<Line> Parse(std::string_view text) {
  std::vector<Line> lines;
  if (text.substr(0, kHeader.size()) != kHeader) return lines;
  text.remove_prefix(kHeader.size());
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) break;  // no newline: incomplete
    std::string_view l = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    // "<key> <expires> <check> <base64 DER>"
    std::size_t a = l.find(' ');
    std::size_t b = a == std::string_view::npos ? a : l.find(' ', a + 1);
    std::size_t c = b == std::string_view::npos ? b : l.find(' ', b + 1);
    if (c == std::string_view::npos || a != 64) continue;
    Line line;
    line.key = std::string(l.substr(0, a));
    std::string expires(l.substr(a + 1, b - a - 1));
    char* end = nullptr;
    line.expires = std::strtoll(expires.c_str(), &end, 10);
    if (expires.empty() || *end != '\0') continue;
    line.der_base64 = std::string(l.substr(c + 1));
    if (line.der_base64.empty() || l.substr(b + 1, c - b - 1) != Check(line.key, line.expires, line.der_base64)) {
      continue;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

SslSessionPtr Decode(const std::string& der_base64) {
  auto der = Base64Decode(der_base64);
  if (!der) return nullptr;
  auto p = reinterpret_cast<const unsigned char*>(der->data());
  SslSessionPtr s(d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der->size())));
  OPENSSL_cleanse(der->data(), der->size());
  if (s && !SSL_SESSION_is_resumable(s.get())) s.reset();
  return s;
}

}  // namespace

std::string Sha256Hex(std::string_view data, std::size_t bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len && i < bytes; ++i) {
    hex += digits[md[i] >> 4];
    hex += digits[md[i] & 15];
  }
  return hex;
}

SslSessionPtr TlsSessionCache::Load(const std::string& key, std::time_t now) const {
  if (!enabled()) return nullptr;
  UniqueFd fd(open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno != ENOENT) log::Debug("TLS session cache " + path_ + ": " + std::strerror(errno));
    return nullptr;
  }
  if (!SafeToUse(fd.get(), path_) || flock(fd.get(), LOCK_SH) != 0) return nullptr;
  std::string text = ReadAll(fd.get());
  for (const Line& line : Parse(text)) {
    if (line.key != key || line.expires <= now) continue;
    SslSessionPtr s = Decode(line.der_base64);
    OPENSSL_cleanse(text.data(), text.size());
    return s;
  }
  OPENSSL_cleanse(text.data(), text.size());
  return nullptr;
}

bool TlsSessionCache::Store(const std::string& key, SSL_SESSION* session, std::time_t now) const {
  if (!enabled() || !session || !SSL_SESSION_is_resumable(session)) return false;
  int len = i2d_SSL_SESSION(session, nullptr);
  if (len <= 0 || static_cast<std::size_t>(len) > kMaxBytes / 8) return false;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto p = reinterpret_cast<unsigned char*>(der.data());
  i2d_SSL_SESSION(session, &p);
  long lifetime = timeout_;
  if (long server = static_cast<long>(SSL_SESSION_get_ticket_lifetime_hint(session)); server > 0) {
    lifetime = std::min(lifetime, server);
  }
  Line fresh{key, static_cast<long long>(now) + lifetime, Base64Encode(der)};
  OPENSSL_cleanse(der.data(), der.size());

  UniqueFd fd(open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600));
  if (fd.get() < 0) {
    log::Debug("TLS session cache " + path_ + " not written: " + std::strerror(errno));
    return false;
  }
  if (!SafeToUse(fd.get(), path_) || flock(fd.get(), LOCK_EX) != 0) return false;
  std::string text = ReadAll(fd.get());
  std::vector<Line> lines = Parse(text);
  OPENSSL_cleanse(text.data(), text.size());
  std::erase_if(lines, [&](const Line& l) { return l.key == key || l.expires <= now; });
  // Bounded: the sessions closest to expiry go first.
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.expires > b.expires; });
  std::size_t bytes = kHeader.size() + fresh.key.size() + fresh.der_base64.size() + 48;
  std::size_t keep = 0;
  while (keep < lines.size() && keep + 1 < kMaxEntries &&
         bytes + lines[keep].key.size() + lines[keep].der_base64.size() + 48 <= kMaxBytes) {
    bytes += lines[keep].key.size() + lines[keep].der_base64.size() + 48;
    ++keep;
  }
  lines.resize(keep);
  lines.insert(lines.begin(), std::move(fresh));
  std::string out(kHeader);
  for (const Line& l : lines) {
    out += l.key + " " + std::to_string(l.expires) + " " + Check(l.key, l.expires, l.der_base64) + " " + l.der_base64 + "\n";
  }
  // In place, under the lock: a crash mid-write leaves lines the parser
  // skips, never a session under the wrong key.
  bool ok = pwrite(fd.get(), out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()) &&
            ftruncate(fd.get(), static_cast<off_t>(out.size())) == 0;
  OPENSSL_cleanse(out.data(), out.size());
  if (!ok) log::Debug("TLS session cache " + path_ + " not written: " + std::strerror(errno));
  return ok;
}

}  // namespace authrelay
