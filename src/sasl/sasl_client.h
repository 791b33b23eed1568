// SASL authentication through the Cyrus libsasl2 client, as Postfix's
// xsasl_cyrus_client does: security properties from the
// smtp_sasl_*security_options in force, no security layer (max_ssf = 0),
// mechanisms narrowed first by smtp_sasl_mechanism_filter.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/secret.h"

namespace authrelay {

// Process-wide sasl_client_init(), done on first use and for the
// mechanisms in play only: Cyrus would dlopen() every plugin installed
// (~8 on Debian, each a few hundred page faults and relocations), while a
// delivery uses the one or two the server offers. Plugins are chosen by
// file name (libplain.so for PLAIN, ...); a mechanism we cannot place
// loads them all, so the choice Cyrus makes never changes.
class SaslLibrary {
 public:
  static SaslLibrary& Global();
  ~SaslLibrary();
  SaslLibrary(const SaslLibrary&) = delete;
  SaslLibrary& operator=(const SaslLibrary&) = delete;
  // Makes sure the plugins that may implement `mechanisms` are loaded
  // (re-initialising Cyrus with more if an earlier call loaded fewer). No
  // SASL connection may be open while it runs. False if Cyrus failed.
  bool Load(const std::vector<std::string>& mechanisms);
  // Client mechanisms the installed plugins offer ("PLAIN LOGIN ..."),
  // after loading them all.
  std::string AvailableMechanisms();
  // The plugin (file name without "lib" and suffix) for a mechanism, or ""
  // if we do not know it.
  static std::string PluginFor(const std::string& mechanism);

 private:
  SaslLibrary() = default;
  bool ok_ = false;
  bool all_ = false;
};

// Parses "noplaintext, noanonymous" into Cyrus security flags. Failure
// 4.3.5 on an unknown word, naming the parameter.
Result<unsigned> ParseSaslSecurityOptions(const std::string& parameter, const std::string& value);

// Applies smtp_sasl_mechanism_filter to the server's list, as a Postfix
// string list: names (case-blind) and "!name", in order, the first match
// deciding; no match excludes. Empty filter keeps all. kAnyMechanism
// stands for a table that matches every name (static:).
inline constexpr std::string_view kAnyMechanism = "{any}";
std::vector<std::string> FilterMechanisms(const std::vector<std::string>& offered, const std::string& filter,
                                          std::vector<std::string>* dropped);

struct SaslStep {
  std::string mechanism;                  // set by Start
  std::optional<std::string> response;    // raw bytes (not base64); nullopt = none
};

class SaslClient {
 public:
  virtual ~SaslClient() = default;
  virtual Result<SaslStep> Start(const std::vector<std::string>& mechanisms) = 0;
  virtual Result<std::string> Step(const std::string& challenge) = 0;
  // True when a refusal of these credentials may be cured by fetching new
  // ones now: an OAuth access token that was cached, not just issued. A
  // password never is: asking again would only add a failed login.
  virtual bool MayRenewCredentials() const { return false; }
};

// service "smtp", server host name (for Kerberos-style mechanisms),
// security flags from ParseSaslSecurityOptions.
Result<std::unique_ptr<SaslClient>> NewCyrusSaslClient(const std::string& server_host, std::string username,
                                                       const Secret& password, unsigned security_flags);

}  // namespace authrelay
