// SASL authentication through the Cyrus libsasl2 client, as Postfix's
// xsasl_cyrus_client does: security properties from the
// smtp_sasl_*security_options in force, no security layer (max_ssf = 0),
// mechanisms narrowed first by smtp_sasl_mechanism_filter.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret.h"

namespace authrelay {

// Process-wide sasl_client_init(), done on first use: it loads every Cyrus
// plugin, which a delivery without credentials never needs (start-up is
// the hot path of a one-process-per-message transport).
class SaslLibrary {
 public:
  static SaslLibrary& Global();
  ~SaslLibrary();
  SaslLibrary(const SaslLibrary&) = delete;
  SaslLibrary& operator=(const SaslLibrary&) = delete;
  bool ok() const { return ok_; }
  // Client mechanisms the installed plugins offer ("PLAIN LOGIN ...").
  std::string AvailableMechanisms() const;

 private:
  SaslLibrary();
  bool ok_ = false;
};

// Parses "noplaintext, noanonymous" into Cyrus security flags. Failure
// 4.3.5 on an unknown word, naming the parameter.
Result<unsigned> ParseSaslSecurityOptions(const std::string& parameter, const std::string& value);

// Applies smtp_sasl_mechanism_filter to the server's list: a list of names,
// "!name" to exclude. Empty filter keeps all. Names compare case-blind.
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
};

// service "smtp", server host name (for Kerberos-style mechanisms),
// security flags from ParseSaslSecurityOptions.
Result<std::unique_ptr<SaslClient>> NewCyrusSaslClient(const std::string& server_host, std::string username,
                                                       const Secret& password, unsigned security_flags);

}  // namespace authrelay
