// Command-line contract (docs/DESIGN.md §2.1, §2.5). Pure: argv in, Options or Failure out.
//
// Delivery:  authrelay --nexthop=N --sender=S [--queue-id=Q] [--size=N]
//                      [--orcpt=ORIG]... (pipe(8) repeats it per recipient, in order)
//                      [-c DIR] [-o name=value]... [-v] -- RCPT...
// Ops:       --check | --lookup NEXTHOP | --probe NEXTHOP | --version
//            --oauth-status STORE [--refresh] | --oauth-enrol STORE ...
//            --provider-profile=NAME (what authrelay-setup --provider=NAME sets)
//            with --sender=, --rcpt=, --json, --dry-run, -v, --trace.
//            --postconf -- NAME...: the value authrelay reads for each
//            parameter, expanded (compare: postconf -xh NAME).
// Everything after "--" is a recipient, whatever it looks like.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace authrelay {

enum class Mode { kDeliver, kCheck, kLookup, kProbe, kPostconf, kOAuthStatus, kOAuthEnrol, kVersion, kHelp,
                  kProviderProfile };

// --oauth-enrol STORE and its flags (see oauth/enrol.h). The client secret
// comes from a file: argv is visible to every local user.
struct OAuthEnrolArgs {
  std::string provider, flow, client_id, client_secret_file, tenant, scope;
  std::string authorize_endpoint, token_endpoint, device_endpoint, redirect_uri;
  // --flow=service-account: Google's JSON key file and the mailbox (sub).
  std::string key_file, subject;
  // --flow=client-credentials with a certificate instead of a secret.
  std::string certificate, key;
};

struct Options {
  Mode mode = Mode::kDeliver;
  std::optional<std::string> config_dir;                         // -c DIR
  std::vector<std::pair<std::string, std::string>> overrides;    // -o name=value, in order
  std::optional<std::string> nexthop;                            // --nexthop=
  std::optional<std::string> sender;                             // --sender= ("" = null sender)
  std::string queue_id;                                          // --queue-id=
  std::optional<std::uint64_t> size;                             // --size=
  std::vector<std::string> recipients;                           // after --
  std::vector<std::string> original_recipients;                  // --orcpt=${original_recipient}, one per recipient
  std::string target;                                            // NEXTHOP of --lookup/--probe, STORE of --oauth-status
  bool refresh = false;                                          // --oauth-status --refresh
  std::string probe_rcpt;                                        // --rcpt=
  std::string log_file;                                          // --log-file= (tests, debugging)
  int verbose = 0;                                               // -v (repeatable)
  bool trace = false;                                            // --trace: redacted transcript
  bool dry_run = false;                                          // stop before DATA
  bool json = false;
  OAuthEnrolArgs enrol;
};

// args excludes argv[0]. A usage error is a class-4 Failure: a broken
// master.cf entry must defer mail, never bounce it.
Result<Options> ParseOptions(const std::vector<std::string>& args);

// Checks an envelope address for bytes that cannot go on an SMTP command
// line (controls, CR, LF, NUL, over-long). Returns an empty string if fine,
// else why not.
std::string AddressProblem(const std::string& address);

std::string UsageText();

}  // namespace authrelay
