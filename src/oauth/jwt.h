// Signed JWTs (RFC 7519, RS256 per RFC 7518 §3.3) that stand in for a
// person or a client secret at the token endpoint (RFC 7523):
//   - Google Workspace service account with domain-wide delegation: the
//     JWT bearer grant, signed with the service account's key, sub = the
//     mailbox, scope https://mail.google.com/;
//   - Microsoft 365 app-only with a certificate: a client assertion (iss =
//     sub = client_id, aud = the token endpoint, a fresh jti) whose header
//     names the certificate by its SHA-256 thumbprint (x5t#S256) and, for
//     older tenants, its SHA-1 one (x5t).
// Private keys come from files under the token-store ownership rules
// (core/private_file.h) and are read each time an assertion is made.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>

#include "core/json.h"
#include "core/result.h"
#include "core/secret.h"

namespace authrelay {

// header.claims.signature, each base64url without padding. Failure 4.7.0
// when the key is not an RSA private key in PEM.
Result<Secret> SignJwtRs256(const Json& header, const Json& claims, const Secret& private_key_pem);

// What Google's service account key file (the JSON the console issues)
// holds; type must be "service_account".
struct ServiceAccountKey {
  std::string client_email;
  std::string token_uri;
  Secret private_key;  // PEM
};
Result<ServiceAccountKey> ReadServiceAccountKey(const std::string& path, uid_t owner);

// The assertion for the JWT bearer grant: valid for an hour from now.
Result<Secret> ServiceAccountAssertion(const ServiceAccountKey& key, const std::string& subject,
                                       const std::string& scope, const std::string& audience, std::time_t now);

// A certificate's thumbprints, base64url: SHA-256 and SHA-1 of its DER.
struct CertificateInfo {
  std::string x5t_s256;
  std::string x5t;
  long long not_after = 0;  // unix time it expires
};
Result<CertificateInfo> ReadCertificate(const std::string& path);

// The client assertion for client_id at token_endpoint: valid 10 minutes.
// key_path under the ownership rules (owner).
Result<Secret> CertificateAssertion(const std::string& client_id, const std::string& token_endpoint,
                                    const std::string& certificate_path, const std::string& key_path, uid_t owner,
                                    std::time_t now);

std::string Base64UrlEncode(std::string_view bytes);

}  // namespace authrelay
