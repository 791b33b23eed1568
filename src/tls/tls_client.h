// TLS client policy and OpenSSL context (smtp(8)'s levels,
// docs/DESIGN.md §4.1). One TlsClient per delivery attempt; it builds the SSL_CTX lazily
// and only loads CAs when the level verifies certificates.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/tls_level.h"
#include "core/transport.h"
#include "tls/session_cache.h"

namespace authrelay {

struct TlsPolicy {
  TlsLevel level = TlsLevel::kMay;
  std::string ca_file;                    // both empty: the system trust store
  std::string ca_path;
  std::string protocols;                  // Postfix syntax: ">=TLSv1.2", "!SSLv3, !TLSv1"
  std::vector<std::string> match_names;   // verify/secure: acceptable names; ".dom" = subdomains
  std::vector<std::string> fingerprints;  // fingerprint level
  std::string fingerprint_digest = "sha256";
  std::string server_name;                // SNI; "" sends none
  std::string name_hint;                  // added to a name-mismatch error: how to name the certificate
  std::string ciphers;                    // OpenSSL list for TLS <= 1.2; "" = OpenSSL's default
  std::string exclude;                    // ciphers to remove, Postfix syntax (colon/space list)
  std::string cert_file;                  // client certificate (optional)
  std::string key_file;
  // Session resumption (tls/session_cache.h): "" = off. session_peer names
  // the next hop and server ("nexthop|host:port") for the cache key.
  std::string session_cache_file;
  long session_cache_timeout = 0;
  std::string session_peer;
};

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
struct SslDeleter {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// Translates a Postfix protocol list to what OpenSSL is given: the floor
// and ceiling versions (0 = no limit) and SSL_OP_NO_* options for the
// excluded protocols (or those an inclusion list leaves out). Returns
// false on a token it does not know.
bool ProtocolRange(std::string_view protocols, int* floor, int* ceiling, long* no_options);

// Whether a range from ProtocolRange (0 = open end) admits TLS 1.0 or 1.1:
// then the client runs at OpenSSL security level 0, as those protocols need.
bool AdmitsPreTls12(int floor, int ceiling, long no_options);

class TlsClient {
 public:
  explicit TlsClient(TlsPolicy policy)
      : policy_(std::move(policy)),
        cache_(policy_.session_cache_file, policy_.session_cache_timeout),
        session_key_(cache_.enabled() ? MakeSessionKey(policy_) : std::string()) {}
  // The SSL_CTX points back here (new-session callback): not copyable.
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  const TlsPolicy& policy() const { return policy_; }
  // Builds (once) the SSL_CTX; Failure 4.7.5 if CAs or keys cannot load.
  Result<SSL_CTX*> Context();
  // Fills info->trusted/verified from the finished handshake.
  void CheckPeer(SSL* ssl, TlsInfo* info) const;
  // Makes an SSL for one connection with SNI and host checks set.
  // Offers the cached session for this peer and policy, if any.
  Result<SslPtr> NewSsl();
  // Writes the newest session the server gave us to the cache. Call only
  // after a handshake whose result the delivery accepted.
  void SaveSession();
  // The cache key: a SHA-256 over the peer and every policy setting that
  // changes what a handshake checks ("" when the cache is off).
  const std::string& SessionKey() const { return session_key_; }

 private:
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);
  static std::string MakeSessionKey(const TlsPolicy& policy);

  TlsPolicy policy_;
  TlsSessionCache cache_;
  std::string session_key_;
  SslCtxPtr ctx_;
  SslSessionPtr newest_session_;
};

// Drains OpenSSL's error queue into one line.
std::string OpenSslErrors();

}  // namespace authrelay
