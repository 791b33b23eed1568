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
  long connect_timeout = 30;
  long deadline_seconds = 800;  // our own, below authrelay_time_limit
  bool soft_bounce = false;     // Postfix's global soft_bounce
  bool allow_plaintext_auth = false;
  std::string log_file;
  SessionPolicy session;  // filled except credentials, TLS level, SASL factory
};

Result<Settings> LoadSettings(const MainCf& cf);

// The level for one next hop, and a phrase saying where it came from.
TlsLevel EffectiveTlsLevel(const Settings& s, bool have_credentials, const NextHop& hop, std::string* why);

// Whether this hop uses implicit TLS (wrappermode or port 465).
bool ImplicitTls(const Settings& s, const NextHop& hop);

TlsPolicy MakeTlsPolicy(const Settings& s, TlsLevel level, const NextHop& hop);

}  // namespace authrelay
