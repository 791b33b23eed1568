// The typed view of main.cf that a delivery needs, with authrelay's
// deliberate differences from smtp(8) (SPEC §2) decided in one place:
//  - no TLS level configured anywhere: "secure" toward a next hop that has
//    credentials, "may" otherwise;
//  - empty smtp_tls_CAfile and smtp_tls_CApath: the system trust store;
//  - port 465 means implicit TLS;
//  - SNI is sent by default (the server host name).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/main_cf.h"
#include "core/result.h"
#include "smtp/nexthop.h"
#include "smtp/session.h"
#include "tls/tls_client.h"

namespace authrelay {

struct Settings {
  std::string config_dir;
  bool sasl_enable = false;
  std::string password_maps;
  bool sender_dependent = false;
  std::string recipient_delimiter;
  std::optional<TlsLevel> configured_level;  // smtp_tls_security_level, if set
  TlsLevel legacy_level = TlsLevel::kMay;    // from smtp_use_tls / smtp_enforce_tls
  bool legacy_set = false;
  bool wrappermode = false;
  std::string ca_file, ca_path;
  std::string protocols, mandatory_protocols;  // "" = authrelay's floor (TLS 1.2)
  std::string servername;
  std::string cert_file, key_file;
  std::string verify_cert_match, secure_cert_match;
  std::string fingerprint_cert_match, fingerprint_digest;
  std::string inet_protocols;
  std::string tls_policy_maps;  // smtp_tls_policy_maps
  std::string bind_address, bind_address6;  // smtp_bind_address(6)
  long connect_timeout = 30;
  long deadline_seconds = 800;  // our own, below authrelay_time_limit
  bool soft_bounce = false;     // Postfix's global soft_bounce
  bool allow_plaintext_auth = false;
  std::string log_file;
  std::string tls_session_cache;       // authrelay_tls_session_cache ("" = off)
  long tls_session_cache_timeout = 3600;
  long oauth_refresh_window = 300;       // authrelay_oauth_refresh_window
  long oauth_expiry_warning = 14 * 86400;  // authrelay_oauth_expiry_warning
  SessionPolicy session;  // filled except credentials, TLS level, SASL factory
};

Result<Settings> LoadSettings(const MainCf& cf);

// The level for one next hop, and a phrase saying where it came from.
TlsLevel EffectiveTlsLevel(const Settings& s, bool have_credentials, const NextHop& hop, std::string* why);

// Whether this hop uses implicit TLS (wrappermode or port 465).
bool ImplicitTls(const Settings& s, const NextHop& hop);

// server_host: the host being connected to (the MX host, or the next hop's
// host); "" means hop.host. "hostname" in a match list and SNI use it;
// "nexthop"/"dot-nexthop" use the next hop's domain.
TlsPolicy MakeTlsPolicy(const Settings& s, TlsLevel level, const NextHop& hop, const std::string& server_host = "");

// smtp_tls_policy_maps: the keys smtp(8) asks, in order: the next hop
// verbatim, then, for a bare domain only, its parent domains ".b.c", ".c".
std::vector<std::string> TlsPolicyKeys(const NextHop& hop);

// Applies one smtp_tls_policy_maps value ("secure match=a:b protocols=...")
// on top of the main.cf-derived policy: the level replaces any other, and
// match=, protocols=, ciphers=, exclude=, servername= replace their
// main.cf counterparts. Failure 4.7.5 "client TLS configuration problem"
// for an unknown level or attribute, as smtp(8).
Status ApplyTlsPolicyEntry(const std::string& value, const NextHop& hop, const Settings& s, TlsLevel* level,
                           TlsPolicy* policy);

}  // namespace authrelay
