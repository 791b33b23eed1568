#include "oauth/jwt.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <memory>

#include "core/base64.h"
#include "core/private_file.h"
#include "core/sanitize.h"

namespace authrelay {
namespace {

Failure JwtFailure(const std::string& what, const std::string& detail = "") {
  return Failure("4.7.0", "OAuth assertion failed: " + what, detail);
}

struct OpenSslFree {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(X509* p) const { X509_free(p); }
};
using BioPtr = std::unique_ptr<BIO, OpenSslFree>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree>;

std::string RandomId() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return "";
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string b = Base64Encode(bytes);
  for (char& c : b) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  while (!b.empty() && b.back() == '=') b.pop_back();
  return b;
}

Result<Secret> SignJwtRs256(const Json& header, const Json& claims, const Secret& private_key_pem) {
  BioPtr bio(BIO_new_mem_buf(private_key_pem.Reveal().data(), static_cast<int>(private_key_pem.size())));
  if (!bio) return JwtFailure("out of memory");
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return JwtFailure("the private key is not an RSA key in PEM",
                      "RS256 needs an unencrypted RSA private key (-----BEGIN PRIVATE KEY-----)");
  }
  std::string input = Base64UrlEncode(DumpJson(header)) + "." + Base64UrlEncode(DumpJson(claims));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return JwtFailure("cannot sign with the private key");
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return JwtFailure("cannot sign with the private key");
  }
  signature.resize(len);
  return Secret(input + "." + Base64UrlEncode(signature));
}

Result<ServiceAccountKey> ReadServiceAccountKey(const std::string& path, uid_t owner) {
  auto bad = [&](const std::string& why, std::string fix = {}) {
    return JwtFailure("service account key file unusable", "service account key file " + Printable(path, 300) + ": " + why)
        .WithFix(std::move(fix));
  };
  Secret text;
  if (Notice why = ReadPrivateFile(path, owner, 64 * 1024, &text); !why.what.empty()) return bad(why.what, why.fix);
  auto parsed = ParseJson(text.Reveal());
  if (!parsed || !parsed->is_object()) return bad("not JSON", "download the key again from the Google Cloud console");
  Json& json = *parsed;
  JsonWiper wipe(json);
  if (JsonText(json, "type") != "service_account") {
    return bad("\"type\" is not \"service_account\"", "create a key for a service account: IAM > Service accounts > Keys");
  }
  ServiceAccountKey k;
  k.client_email = JsonText(json, "client_email");
  k.token_uri = JsonText(json, "token_uri");
  k.private_key = Secret(JsonText(json, "private_key"));
  if (k.client_email.empty() || k.private_key.empty()) return bad("client_email or private_key missing");
  if (k.token_uri.empty()) k.token_uri = "https://oauth2.googleapis.com/token";
  return k;
}

Result<Secret> ServiceAccountAssertion(const ServiceAccountKey& key, const std::string& subject,
                                       const std::string& scope, const std::string& audience, std::time_t now) {
  Json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  Json claims = {{"iss", key.client_email}, {"sub", subject}, {"scope", scope}, {"aud", audience},
                 {"iat", static_cast<long long>(now)}, {"exp", static_cast<long long>(now) + 3600}};
  return SignJwtRs256(header, claims, key.private_key);
}

Result<CertificateInfo> ReadCertificate(const std::string& path) {
  // The path comes from a store: a FIFO must not hang us, /dev/zero must
  // not fill memory. A certificate chain is a few KiB.
  std::string pem;
  if (Notice why = ReadRegularFile(path, 1 << 20, &pem); !why.what.empty()) {
    return JwtFailure("certificate unreadable", "certificate " + Printable(path, 300) + ": " + why.what +
                                                    " (the PEM file uploaded to the app registration)");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return JwtFailure("certificate unreadable", "certificate " + Printable(path, 300) + ": not a PEM certificate");
  int der_len = i2d_X509(cert.get(), nullptr);
  std::string der(static_cast<std::size_t>(der_len > 0 ? der_len : 0), '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert.get(), &p);
  unsigned char sha256[SHA256_DIGEST_LENGTH], sha1[SHA_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(), sha256);
  SHA1(reinterpret_cast<const unsigned char*>(der.data()), der.size(), sha1);
  CertificateInfo info;
  info.x5t_s256 = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(sha256), sizeof sha256));
  info.x5t = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(sha1), sizeof sha1));
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) == 1) info.not_after = timegm(&tm);
  return info;
}

Result<Secret> CertificateAssertion(const std::string& client_id, const std::string& token_endpoint,
                                    const std::string& certificate_path, const std::string& key_path, uid_t owner,
                                    std::time_t now) {
  auto cert = ReadCertificate(certificate_path);
  if (!cert.ok()) return cert.failure();
  Secret key;
  if (Notice why = ReadPrivateFile(key_path, owner, 64 * 1024, &key); !why.what.empty()) {
    return JwtFailure("private key file unusable", "private key file " + Printable(key_path, 300) + ": " + why.what).WithFix(why.fix);
  }
  std::string jti = RandomId();
  if (jti.empty()) return JwtFailure("no random bytes from OpenSSL");
  Json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"x5t#S256", cert.value().x5t_s256}, {"x5t", cert.value().x5t}};
  long long t = static_cast<long long>(now);
  Json claims = {{"aud", token_endpoint}, {"iss", client_id}, {"sub", client_id}, {"jti", jti},
                 {"nbf", t}, {"iat", t}, {"exp", t + 600}};
  return SignJwtRs256(header, claims, key);
}

}  // namespace authrelay
