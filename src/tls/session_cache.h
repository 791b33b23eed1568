// TLS session resumption across deliveries.
//
// Each delivery is a new process, so OpenSSL's in-memory client cache is
// useless; smtp(8) keeps its sessions in tlsmgr(8). We keep them in one
// small file (authrelay_tls_session_cache), shared by all deliveries:
//  - text, one session per line: "<key> <expires> <base64 DER>", so a
//    line cut short by a crash is simply not understood and skipped;
//  - the key is a SHA-256 of the next hop, the server and every TLS policy
//    setting (tls_client.h SessionKey), so a session made under one policy
//    is never resumed under another;
//  - read under a shared flock, rewritten under an exclusive one;
//  - used only if it is a regular file owned by us with mode 0600 (it holds
//    session secrets); anything else is ignored with a warning, never
//    followed (O_NOFOLLOW) or repaired;
//  - bounded: at most kMaxEntries sessions and kMaxBytes; oldest dropped.
// Every failure here only costs a full handshake: nothing is fatal.
#pragma once

#include <openssl/ssl.h>

#include <ctime>
#include <memory>
#include <string>
#include <string_view>

namespace authrelay {

struct SslSessionDeleter {
  void operator()(SSL_SESSION* s) const noexcept { SSL_SESSION_free(s); }
};
using SslSessionPtr = std::unique_ptr<SSL_SESSION, SslSessionDeleter>;

// Lowercase hex of the first `bytes` bytes of SHA-256(data): cache keys
// and line checks.
std::string Sha256Hex(std::string_view data, std::size_t bytes = 32);

class TlsSessionCache {
 public:
  static constexpr std::size_t kMaxEntries = 100;
  static constexpr std::size_t kMaxBytes = 1 << 20;

  // path "" disables the cache; timeout_seconds caps how long a session is
  // kept (the server's own ticket lifetime may cap it further).
  TlsSessionCache(std::string path, long timeout_seconds) : path_(std::move(path)), timeout_(timeout_seconds) {}
  bool enabled() const { return !path_.empty() && timeout_ > 0; }

  // The session stored under key and not yet expired, or null.
  SslSessionPtr Load(const std::string& key, std::time_t now = std::time(nullptr)) const;
  // Stores (replaces) the session for key; false if it could not.
  bool Store(const std::string& key, SSL_SESSION* session, std::time_t now = std::time(nullptr)) const;

 private:
  std::string path_;
  long timeout_;
};

}  // namespace authrelay
