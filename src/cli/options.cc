#include "cli/options.h"

#include <charconv>

#include "core/sanitize.h"
#include "smtp/address.h"

namespace authrelay {
namespace {

Failure UsageError(const std::string& why) {
  std::string what = "command line: " + Printable(why, 200) + " (check the argv= of the master.cf entry)";
  return ConfigFailure(what);
}

// Matches "--name=value" or "--name value"; advances i for the second form.
bool TakeLong(const std::vector<std::string>& args, std::size_t& i, const std::string& name,
              std::optional<std::string>& out, bool& missing) {
  const std::string& a = args[i];
  if (a.rfind(name + "=", 0) == 0) {
    out = a.substr(name.size() + 1);
    return true;
  }
  if (a == name) {
    if (i + 1 >= args.size()) {
      missing = true;
      return true;
    }
    out = args[++i];
    return true;
  }
  return false;
}

// The --oauth-enrol flags, each "--name=value" or "--name value".
bool TakeEnrolFlag(const std::vector<std::string>& args, std::size_t& i, OAuthEnrolArgs& e, bool& missing) {
  const std::pair<const char*, std::string OAuthEnrolArgs::*> flags[] = {
      {"--provider", &OAuthEnrolArgs::provider},
      {"--flow", &OAuthEnrolArgs::flow},
      {"--client-id", &OAuthEnrolArgs::client_id},
      {"--client-secret-file", &OAuthEnrolArgs::client_secret_file},
      {"--tenant", &OAuthEnrolArgs::tenant},
      {"--scope", &OAuthEnrolArgs::scope},
      {"--authorize-endpoint", &OAuthEnrolArgs::authorize_endpoint},
      {"--token-endpoint", &OAuthEnrolArgs::token_endpoint},
      {"--device-endpoint", &OAuthEnrolArgs::device_endpoint},
      {"--redirect-uri", &OAuthEnrolArgs::redirect_uri},
      {"--key-file", &OAuthEnrolArgs::key_file},
      {"--subject", &OAuthEnrolArgs::subject},
      {"--certificate", &OAuthEnrolArgs::certificate},
      {"--key", &OAuthEnrolArgs::key},
  };
  for (const auto& [name, member] : flags) {
    std::optional<std::string> v;
    if (TakeLong(args, i, name, v, missing)) {
      if (v) e.*member = *v;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string AddressProblem(const std::string& address) {
  // The one set of rules: those the address must pass to go on the wire.
  return MakeEnvelopePath(address, /*null_allowed=*/true).problem;
}

std::string UsageText() {
  return "usage: authrelay --nexthop=NEXTHOP --sender=SENDER [--queue-id=ID] [--size=N]\n"
         "                 [-c CONFIG_DIR] [-o name=value]... [-v] -- RECIPIENT...\n"
         "       authrelay --check [-c DIR] [--json]\n"
         "       authrelay --provider-profile=gmail|google-relay|m365|ses|sendgrid [-c DIR]\n"
         "       authrelay --lookup NEXTHOP [--sender=ADDR] [--json]\n"
         "       authrelay --probe NEXTHOP [--sender=ADDR] [--rcpt=ADDR] [--json]\n"
         "       authrelay --postconf [-c DIR] -- PARAMETER...\n"
         "       authrelay --oauth-status STORE [--refresh]\n"
         "       authrelay --oauth-enrol STORE --provider=google|microsoft --client-id=ID\n"
         "                 [--client-secret-file=FILE] [--tenant=T] [--flow=device|code|client-credentials]\n"
         "                 [--scope=S] [--token-endpoint=URL] [--device-endpoint=URL]\n"
         "                 [--authorize-endpoint=URL] [--redirect-uri=URL]\n"
         "       authrelay --oauth-enrol STORE --flow=service-account --key-file=KEY.json --subject=MAILBOX\n"
         "       authrelay --oauth-enrol STORE --provider=microsoft --flow=client-credentials --client-id=ID\n"
         "                 --tenant=T --certificate=CERT.pem --key=KEY.pem\n"
         "       authrelay --version\n";
}

Result<Options> ParseOptions(const std::vector<std::string>& args) {
  Options o;
  bool saw_mode = false;
  auto set_mode = [&](Mode m) -> bool {
    if (saw_mode && o.mode != m) return false;
    saw_mode = true;
    o.mode = m;
    return true;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      o.recipients.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    bool missing = false;
    std::optional<std::string> v;
    if (TakeLong(args, i, "--nexthop", v, missing)) {
      if (missing) return UsageError("--nexthop needs a value");
      o.nexthop = *v;
    } else if (TakeLong(args, i, "--sender", v, missing)) {
      if (missing) return UsageError("--sender needs a value");
      o.sender = *v;
    } else if (TakeLong(args, i, "--queue-id", v, missing)) {
      if (missing) return UsageError("--queue-id needs a value");
      o.queue_id = *v;
    } else if (TakeLong(args, i, "--size", v, missing)) {
      if (missing) return UsageError("--size needs a value");
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec != std::errc() || p != v->data() + v->size()) {
        return UsageError("--size is not a number: " + *v);
      }
      o.size = n;
    } else if (TakeLong(args, i, "--orcpt", v, missing)) {
      if (missing) return UsageError("--orcpt needs a value (--orcpt=${original_recipient})");
      o.original_recipients.push_back(*v);
    } else if (TakeLong(args, i, "--rcpt", v, missing)) {
      if (missing) return UsageError("--rcpt needs a value");
      o.probe_rcpt = *v;
    } else if (TakeLong(args, i, "--log-file", v, missing)) {
      if (missing) return UsageError("--log-file needs a value");
      o.log_file = *v;
    } else if (TakeLong(args, i, "--lookup", v, missing)) {
      if (missing) return UsageError("--lookup needs a next hop");
      if (!set_mode(Mode::kLookup)) return UsageError("only one of --check, --lookup, --probe, --version");
      o.target = *v;
    } else if (TakeLong(args, i, "--probe", v, missing)) {
      if (missing) return UsageError("--probe needs a next hop");
      if (!set_mode(Mode::kProbe)) return UsageError("only one of --check, --lookup, --probe, --version");
      o.target = *v;
    } else if (TakeLong(args, i, "--oauth-status", v, missing)) {
      if (missing) return UsageError("--oauth-status needs a token store file");
      if (!set_mode(Mode::kOAuthStatus)) return UsageError("only one of --check, --lookup, --probe, --oauth-status, --version");
      o.target = *v;
    } else if (TakeLong(args, i, "--oauth-enrol", v, missing) || TakeLong(args, i, "--oauth-enroll", v, missing)) {
      if (missing) return UsageError("--oauth-enrol needs a token store file");
      if (!set_mode(Mode::kOAuthEnrol)) return UsageError("only one of --check, --lookup, --probe, --oauth-enrol, --version");
      o.target = *v;
    } else if (TakeLong(args, i, "--provider-profile", v, missing)) {
      if (missing) return UsageError("--provider-profile needs a name");
      if (!set_mode(Mode::kProviderProfile)) return UsageError("only one of --check, --provider-profile, --version");
      o.target = *v;
    } else if (TakeEnrolFlag(args, i, o.enrol, missing)) {
      if (missing) return UsageError(a + " needs a value");
    } else if (a == "--refresh") {
      o.refresh = true;
    } else if (a == "--postconf") {
      if (!set_mode(Mode::kPostconf)) return UsageError("only one of --check, --lookup, --probe, --postconf, --version");
    } else if (a == "--check") {
      if (!set_mode(Mode::kCheck)) return UsageError("only one of --check, --lookup, --probe, --version");
    } else if (a == "--version") {
      if (!set_mode(Mode::kVersion)) return UsageError("only one of --check, --lookup, --probe, --version");
    } else if (a == "--help" || a == "-h") {
      set_mode(Mode::kHelp);
    } else if (a == "--dry-run") {
      o.dry_run = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--trace") {
      o.trace = true;
      o.verbose = std::max(o.verbose, 1);
    } else if (a == "-v" || a == "--verbose") {
      ++o.verbose;
    } else if (a == "-c" || (a.size() > 2 && a.rfind("-c", 0) == 0 && a[2] != '-')) {
      if (a == "-c") {
        if (i + 1 >= args.size()) return UsageError("-c needs a directory");
        o.config_dir = args[++i];
      } else {
        o.config_dir = a.substr(2);
      }
    } else if (a == "-o" || (a.size() > 2 && a.rfind("-o", 0) == 0)) {
      std::string nv;
      if (a == "-o") {
        if (i + 1 >= args.size()) return UsageError("-o needs name=value");
        nv = args[++i];
      } else {
        nv = a.substr(2);
      }
      auto eq = nv.find('=');
      if (eq == std::string::npos || eq == 0) return UsageError("-o expects name=value, got " + nv);
      o.overrides.emplace_back(std::string(Trim(nv.substr(0, eq))), std::string(Trim(nv.substr(eq + 1))));
    } else {
      return UsageError("unknown argument " + a);
    }
  }

  if (o.mode == Mode::kDeliver) {
    if (!o.nexthop || o.nexthop->empty()) return UsageError("missing --nexthop=${nexthop}");
    if (!o.sender) return UsageError("missing --sender=${sender}");
    if (o.recipients.empty()) return UsageError("no recipients after --");
  }
  return o;
}

}  // namespace authrelay
