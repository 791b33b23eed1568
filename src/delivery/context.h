// What every mode shares: the loaded main.cf with -o applied, and its
// typed settings; plus a JSON string writer for --json output.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/options.h"
#include "config/main_cf.h"
#include "config/settings.h"
#include "core/result.h"

namespace authrelay {

struct Context {
  MainCf cf;
  Settings settings;
};

// -c DIR, else $MAIL_CONFIG, else /etc/postfix.
std::string ConfigDir(const Options& o);
Result<Context> LoadContext(const Options& o);

void JsonString(std::ostream& os, std::string_view s);

// The smtp_tls_policy_maps value for a next hop (keys: TlsPolicyKeys), if
// any. A table error is Failure 4.7.5 "client TLS configuration problem".
Result<std::optional<std::string>> FindTlsPolicyEntry(const Settings& s, const NextHop& hop);

// The TLS policy for one server host of a next hop: the policy-map lookup,
// then ResolveTlsPolicy (tls/policy.h), where every rule lives.
// server_host "" means the next hop's own host.
Result<TlsDecision> TlsPolicyFor(const Settings& s, const NextHop& hop, const std::string& server_host,
                                 bool have_credentials);

// --check: config, maps, CAs and the policy each next hop gets; every
// problem with its fix. Returns the exit code (75 if a delivery would defer).
int RunCheck(const Options& o, const Context& ctx);
// --oauth-status STORE [--refresh] and --oauth-enrol STORE (oauth_ops.cc).
int RunOAuthStatus(const Options& o, const Context& ctx);
int RunOAuthEnrol(const Options& o, const Context& ctx);

}  // namespace authrelay
