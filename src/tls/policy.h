// The TLS policy for one server of one next hop, decided in ONE place.
//
// ResolveTlsPolicy is a pure function: from the TLS parameters of main.cf
// (TlsSettings), where the mail goes (TlsDestination: the next hop and the
// server host being connected to, which is the MX host for a bare domain),
// whether credentials exist, and the smtp_tls_policy_maps entry if one was
// found, it computes everything the TLS client needs: the level, the names
// a certificate must match, the protocols, ciphers and exclusions, SNI, the
// fingerprints, the CA source and the session-cache key parts. The session
// and the connection take the resulting TlsPolicy and never see main.cf.
//
// It follows smtp(8) except for authrelay's deliberate differences (the
// README's table; each is marked "deliberate:" below):
//  - no TLS level configured anywhere: "secure" toward a next hop with
//    credentials, "may" otherwise (secure-with-credentials);
//  - port 465 (or smtp_tls_wrappermode) is implicit TLS, so at least
//    "encrypt" (implicit-tls-465);
//  - SNI carries the server host name unless smtp_tls_servername says
//    otherwise (sni-by-default);
//  - no protocols configured: TLS 1.2 at least (tls12-floor, applied by
//    TlsClient when TlsPolicy::protocols is empty).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "tls/tls_client.h"

namespace authrelay {

// The main.cf parameters that decide TLS, as written (LoadSettings fills it).
struct TlsSettings {
  std::optional<TlsLevel> configured_level;  // smtp_tls_security_level, if set
  TlsLevel legacy_level = TlsLevel::kMay;    // from smtp_use_tls / smtp_enforce_tls
  bool legacy_set = false;
  bool wrappermode = false;                  // smtp_tls_wrappermode
  std::string ca_file, ca_path;              // smtp_tls_CAfile, smtp_tls_CApath
  std::string protocols, mandatory_protocols;  // "" = authrelay's floor (TLS 1.2)
  std::string servername;                    // smtp_tls_servername
  std::string cert_file, key_file;
  std::string verify_cert_match = "hostname";
  std::string secure_cert_match = "nexthop, dot-nexthop";
  std::string fingerprint_cert_match;
  std::string fingerprint_digest = "sha256";
  std::string session_cache_file;            // authrelay_tls_session_cache ("" = off)
  long session_cache_timeout = 3600;
};

// Where one connection goes.
struct TlsDestination {
  std::string nexthop;      // the next hop as written: "[smtp.example.com]:587", "example.com"
  std::string domain;       // the next hop without brackets and port ("nexthop" in match lists)
  std::string server_host;  // the host connected to: the MX host, or the bracketed host
  std::uint16_t port = 25;
};

struct TlsDecision {
  TlsPolicy policy;        // policy.level is the effective level
  bool implicit_tls = false;
  std::string level_why;   // where the level came from, for logs and --check
};

// The main.cf TLS settings no delivery can work with. ResolveTlsPolicy
// refuses them and --check names them, both through these two, so the rule
// and its wording live here only. Each returns a configuration problem
// (4.7.5) naming the setting, with its fix, or nothing.
//  - an empty smtp_tls_secure_cert_match / smtp_tls_verify_cert_match
//    (after Postfix's list splitting): smtp(8) refuses to start with one,
//    and it would accept any name, so it fails closed at every level;
//  - a smtp_tls_protocols / smtp_tls_mandatory_protocols value that is not a
//    Postfix protocol list.
std::optional<Failure> CertMatchListProblem(const std::string& param, const std::string& value);
std::optional<Failure> ProtocolListProblem(const std::string& param, const std::string& value);

// Failure 4.7.5 "client TLS configuration problem" (detail: what and how to
// fix it) for a configuration smtp(8) would refuse too.
Result<TlsDecision> ResolveTlsPolicy(const TlsSettings& settings, const TlsDestination& dest, bool have_credentials,
                                     const std::optional<std::string>& policy_entry);

// smtp_tls_policy_maps: the keys smtp(8) asks, in order: the next hop as
// written, then, for a bare domain without port only, its parent domains
// ".b.c", ".c".
std::vector<std::string> TlsPolicyKeys(const std::string& nexthop, const std::string& domain, bool bracketed,
                                       bool has_port);

}  // namespace authrelay
