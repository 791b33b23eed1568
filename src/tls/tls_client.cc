#include "tls/tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include "core/list.h"
#include "tls/ca_bundle.h"
#include "core/sanitize.h"
#include "log/log.h"

namespace authrelay {

namespace {
bool IsIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}
}  // namespace

std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Result<SSL_CTX*> TlsClient::Context() {
  if (ctx_) return ctx_.get();
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Failure("4.7.5", "Cannot start TLS: our TLS engine is unavailable", OpenSslErrors());

  // TLS 1.2 at least unless the admin configured the protocols (the
  // tls12-floor deliberate difference).
  int lo = TLS1_2_VERSION, hi = 0;
  long no_options = 0;
  if (!policy_.protocols.empty()) {
    if (!ProtocolRange(policy_.protocols, &lo, &hi, &no_options)) {
      return Failure("4.7.5", "client TLS configuration problem",
                     "bad TLS protocol list \"" + Printable(policy_.protocols, 100) +
                         "\" (use e.g. >=TLSv1.2 or !SSLv2, !SSLv3, !TLSv1, !TLSv1.1)");
    }
  }
  SSL_CTX_set_min_proto_version(ctx.get(), lo);
  SSL_CTX_set_max_proto_version(ctx.get(), hi);
  if (no_options) SSL_CTX_set_options(ctx.get(), static_cast<uint64_t>(no_options));
  // TLS 1.0 and 1.1 sign the key exchange with SHA-1 (or MD5+SHA-1), which
  // OpenSSL 3 refuses at every security level above 0, so a protocol list
  // that admits them would otherwise never get a TLS 1.1 handshake through.
  // smtp(8) runs unauthenticated TLS (may, encrypt) at level 0 and raises
  // it to 1 where the certificate must match (fingerprint and up), which
  // rules TLS 1.0/1.1 out there. We lower it only for may/encrypt AND when
  // the admin's list admits a protocol below TLS 1.2, so the default (TLS
  // 1.2 at least) keeps OpenSSL's level and its key-size and digest
  // minimums. Set before the cipher list: an explicit "@SECLEVEL=n" wins.
  if (policy_.level <= TlsLevel::kEncrypt && AdmitsPreTls12(lo, hi, no_options)) {
    SSL_CTX_set_security_level(ctx.get(), 0);
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (!policy_.ciphers.empty() || !policy_.exclude.empty()) {
    std::string list = policy_.ciphers.empty() ? "DEFAULT" : policy_.ciphers;
    for (const std::string& x : SplitList(policy_.exclude)) {
      for (std::size_t start = 0; start <= x.size();) {
        auto colon = x.find(':', start);
        std::string one = x.substr(start, colon == std::string::npos ? x.npos : colon - start);
        if (!one.empty()) list += ":!" + one;
        if (colon == std::string::npos) break;
        start = colon + 1;
      }
    }
    if (SSL_CTX_set_cipher_list(ctx.get(), list.c_str()) != 1) {
      return Failure("4.7.5", "client TLS configuration problem", "no usable ciphers in \"" + list + "\"");
    }
  }
  // We check the result ourselves after the handshake, as Postfix does, so
  // the log can say exactly what failed.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);

  if (policy_.level >= TlsLevel::kVerify) {
    std::string file = policy_.ca_file;
    std::string dir = policy_.ca_path;
    // A CA setting that names nothing would make every verification fail
    // later as "unable to get local issuer certificate": say so now, with
    // the fix. (Recipes written for Red Hat name /etc/pki/tls/certs/...)
    auto names_nothing = [](const char* param, const std::string& path) {
      std::string fix = "/etc/ssl/certs/ca-certificates.crt";
      struct stat s{};
      std::string suggestion =
          stat(fix.c_str(), &s) == 0 ? "set smtp_tls_CAfile = " + fix + ", or " : std::string();
      return Failure("4.7.5", "client TLS configuration problem", std::string(param) + " = " + path + " does not exist")
          .WithCause(Cause::kTlsTrustUnreadable)
          .WithSetting(param)
          .WithFix(suggestion + "leave smtp_tls_CAfile and smtp_tls_CApath empty for the system trust store");
    };
    struct stat st{};
    if (!file.empty() && stat(file.c_str(), &st) != 0 && errno == ENOENT) return names_nothing("smtp_tls_CAfile", file);
    if (!dir.empty() && stat(dir.c_str(), &st) != 0 && errno == ENOENT) return names_nothing("smtp_tls_CApath", dir);
    const char* file_param = "smtp_tls_CAfile";  // the setting a bad bundle file came from
    if (!dir.empty() && stat(dir.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      // The seed recipe points smtp_tls_CApath at a bundle file.
      log::Info("smtp_tls_CApath " + dir + " is a file, not a directory: using it as a CA bundle file");
      if (file.empty()) {
        file = dir;
        file_param = "smtp_tls_CApath";
      }
      dir.clear();
    }
    // CAs are looked up on demand (tls/ca_bundle.h): a bundle is decoded
    // only as far as verification needs, and a resumed session needs none.
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    std::string why;
    if (file.empty() && dir.empty()) {
      if (!AddLazySystemCas(store, &why)) {
        return Failure("4.7.5", "Cannot start TLS: no trusted CA certificates",
                       "cannot load the system trust store: " + why +
                           " (install ca-certificates or set smtp_tls_CAfile)")
            .WithCause(Cause::kTlsTrustUnreadable);
      }
    } else {
      bool ok = true;
      const char* at_fault = file_param;
      if (!file.empty()) ok = AddLazyCaBundle(store, file, &why);
      if (ok && !dir.empty()) {
        at_fault = "smtp_tls_CApath";
        X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
        ok = lookup && X509_LOOKUP_add_dir(lookup, dir.c_str(), X509_FILETYPE_PEM) == 1;
        if (!ok) why = OpenSslErrors();
      }
      if (!ok) {
        return Failure("4.7.5", "Cannot start TLS: cannot load CA certificates",
                       "cannot load CA certificates from " + (why.empty() ? (file.empty() ? dir : file) : why) +
                           " (check smtp_tls_CAfile / smtp_tls_CApath and that this user can read them)")
            .WithCause(Cause::kTlsTrustUnreadable)
            .WithSetting(at_fault);
      }
    }
  }
  if (!policy_.cert_file.empty()) {
    const std::string& key = policy_.key_file.empty() ? policy_.cert_file : policy_.key_file;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), policy_.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return Failure("4.7.5", "Cannot start TLS: client certificate problem",
                     "cannot load smtp_tls_cert_file " + policy_.cert_file + ": " + OpenSslErrors());
    }
  }
  if (cache_.enabled()) {
    // OpenSSL keeps nothing itself (one process, one connection): every
    // session it would cache comes to OnNewSession.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_set_app_data(ctx.get(), this);
    SSL_CTX_sess_set_new_cb(ctx.get(), &TlsClient::OnNewSession);
  }
  ctx_ = std::move(ctx);
  return ctx_.get();
}

int TlsClient::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<TlsClient*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (!self) return 0;
  // TLS 1.3 servers may send several tickets; the last one is kept.
  self->newest_session_.reset(session);
  return 1;  // we hold the reference now
}

void TlsClient::SaveSession() {
  if (!newest_session_) return;
  if (cache_.Store(session_key_, newest_session_.get())) {
    log::Debug("TLS session for " + Printable(policy_.session_peer, 200) + " saved to " + policy_.session_cache_file);
  }
  newest_session_.reset();
}

std::string TlsClient::MakeSessionKey(const TlsPolicy& p) {
  std::string id = "v1";
  auto add = [&](std::string_view field) {
    id += '\x1f';
    id += field;
  };
  add(p.session_peer);
  add(TlsLevelName(p.level));
  add(p.server_name);
  for (const auto& n : p.match_names) add(n);
  add("|");
  for (const auto& f : p.fingerprints) add(f);
  add(p.fingerprint_digest);
  add(p.protocols);
  add(p.ciphers);
  add(p.exclude);
  add(p.ca_file);
  add(p.ca_path);
  add(p.cert_file);
  add(p.key_file);
  return Sha256Hex(id);
}

Result<SslPtr> TlsClient::NewSsl() {
  auto ctx = Context();
  if (!ctx.ok()) return ctx.failure();
  SslPtr ssl(SSL_new(ctx.value()));
  if (!ssl) return Failure("4.7.5", "Cannot start TLS: our TLS engine is unavailable", OpenSslErrors());
  if (!policy_.server_name.empty()) {
    unsigned char buf[16];
    bool is_ip = inet_pton(AF_INET, policy_.server_name.c_str(), buf) == 1 ||
                 inet_pton(AF_INET6, policy_.server_name.c_str(), buf) == 1;
    if (!is_ip) SSL_set_tlsext_host_name(ssl.get(), policy_.server_name.c_str());
  }
  if (cache_.enabled()) {
    if (SslSessionPtr cached = cache_.Load(session_key_)) SSL_set_session(ssl.get(), cached.get());
  }
  if (policy_.level >= TlsLevel::kVerify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    // An address in the list must be in the certificate's IP
    // subjectAltName AND, when host names are listed too, one of them must
    // match: OpenSSL checks the two kinds separately, as it does for
    // smtp(8). A list without an address checks host names only.
    bool first = true;
    for (const std::string& name : policy_.match_names) {
      if (IsIpAddress(name)) {
        X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
        continue;
      }
      if (first) X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
      else X509_VERIFY_PARAM_add1_host(param, name.c_str(), 0);
      first = false;
    }
  }
  return ssl;
}

namespace {

std::string Hex(const unsigned char* md, unsigned len) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    if (i) out += ':';
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string NameLine(X509_NAME* name) {
  char buf[512];
  X509_NAME_oneline(name, buf, sizeof buf);
  return Printable(buf, 300);
}

}  // namespace

void TlsClient::CheckPeer(SSL* ssl, TlsInfo* info) const {
  info->protocol = SSL_get_version(ssl);
  info->resumed = SSL_session_reused(ssl) == 1;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  info->cipher = cipher ? SSL_CIPHER_get_name(cipher) : "?";
  info->bits = cipher ? SSL_CIPHER_get_bits(cipher, nullptr) : 0;
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) {
    info->verify_error = "server sent no certificate";
    return;
  }
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
  info->peer_subject = Printable(cn, 200);
  // The chain as verified (leaf to trust anchor) when verification ran and
  // succeeded, else what the server sent.
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl);
  if (!chain || sk_X509_num(chain) == 0) chain = SSL_get_peer_cert_chain(ssl);
  if (chain) {
    for (int i = 0; i < sk_X509_num(chain) && i < 10; ++i) {
      X509* c = sk_X509_value(chain, i);
      info->chain.push_back("depth " + std::to_string(i) + ": subject=" + NameLine(X509_get_subject_name(c)) +
                            ", issuer=" + NameLine(X509_get_issuer_name(c)));
    }
  }
  if (policy_.level == TlsLevel::kFingerprint) {
    const EVP_MD* md = EVP_get_digestbyname(policy_.fingerprint_digest.c_str());
    if (!md) {
      info->verify_error = "unknown fingerprint digest " + policy_.fingerprint_digest;
      return;
    }
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    std::string cert_fp, key_fp;
    if (X509_digest(peer, md, buf, &len) == 1) cert_fp = Hex(buf, len);
    // The public-key fingerprint is the digest of the DER SubjectPublicKeyInfo
    // (what "openssl pkey -pubin -outform DER" writes), as smtp(8) computes
    // it; X509_pubkey_digest() would hash only the key bits.
    unsigned char* der = nullptr;
    int der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(peer), &der);
    if (der_len > 0 && EVP_Digest(der, static_cast<std::size_t>(der_len), buf, &len, md, nullptr) == 1) {
      key_fp = Hex(buf, len);
    }
    OPENSSL_free(der);
    // Hex digits compare without case and with or without colons.
    auto digits = [](const std::string& s) {
      std::string out;
      for (char c : s) {
        if (c != ':') out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
      }
      return out;
    };
    for (const std::string& want : policy_.fingerprints) {
      std::string w = digits(want);
      if (!w.empty() && (w == digits(cert_fp) || w == digits(key_fp))) {
        info->verified = true;
        return;
      }
    }
    info->verify_error = "fingerprint " + cert_fp + " does not match";
    return;
  }
  long rc = SSL_get_verify_result(ssl);
  if (policy_.level < TlsLevel::kVerify) {
    info->verify_error = "certificate not checked at this security level";
    return;
  }
  if (rc == X509_V_OK) {
    info->trusted = true;
    info->verified = true;
  } else {
    info->trusted = rc == X509_V_ERR_HOSTNAME_MISMATCH || rc == X509_V_ERR_IP_ADDRESS_MISMATCH;
    info->verify_error = X509_verify_cert_error_string(rc);
    if (info->trusted && !policy_.name_hint.empty()) info->verify_error += " (" + policy_.name_hint + ")";
  }
}

}  // namespace authrelay
