// The typed view of main.cf that a delivery needs. Values only: what they
// mean for TLS is decided in tls/policy.h (ResolveTlsPolicy).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/main_cf.h"
#include "core/result.h"
#include "smtp/nexthop.h"
#include "smtp/session.h"
#include "tls/policy.h"

namespace authrelay {

struct Settings {
  std::string config_dir;
  bool sasl_enable = false;
  std::string password_maps;
  bool sender_dependent = false;
  std::string recipient_delimiter;
  TlsSettings tls;  // every TLS parameter; tls/policy.h decides from them
  std::string inet_protocols;
  std::string tls_policy_maps;  // smtp_tls_policy_maps
  std::string bind_address, bind_address6;  // smtp_bind_address(6)
  long connect_timeout = 30;
  long minimal_backoff_time = 300;  // Postfix's: the age before a "may" plaintext retry
  long deadline_seconds = 800;  // our own, below authrelay_time_limit
  bool soft_bounce = false;     // Postfix's global soft_bounce
  bool allow_plaintext_auth = false;
  std::string log_file;
  long oauth_refresh_window = 300;       // authrelay_oauth_refresh_window
  long oauth_expiry_warning = 14 * 86400;  // authrelay_oauth_expiry_warning
  SessionPolicy session;  // filled except credentials, TLS level, SASL factory
};

Result<Settings> LoadSettings(const MainCf& cf);

}  // namespace authrelay
