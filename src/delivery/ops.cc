#include <iostream>

#include <sasl/sasl.h>

#include "config/main_cf.h"
#include "core/json.h"
#include "core/private_file.h"
#include "core/sanitize.h"
#include "credmap/credentials.h"
#include "delivery/attempt.h"
#include "delivery/context.h"
#include "delivery/delivery.h"
#include "delivery/direct.h"
#include "delivery/profile_ops.h"
#include "delivery/remedy.h"
#include "log/log.h"
#include "net/connection.h"
#include "oauth/http_client.h"
#include "share/share.h"

// The ops commands (--check, --lookup, --probe, --version, OAuth, provider
// profiles): only the authrelay program runs them.
namespace authrelay {

namespace {

int RunLookup(const Options& o, const Context& ctx) {
  const Settings& s = ctx.settings;
  auto hops = ParseNextHops(o.target);
  if (!hops.ok()) {
    std::cout << FailureReport(hops.failure()).line << "\n" << hops.failure().detail() << "\n";
    return kExitTempFail;
  }
  std::vector<Notice> warnings;
  auto tables = TableList::Open("smtp_sasl_password_maps", s.password_maps, &warnings);
  for (const auto& w : warnings) std::cerr << "warning: " << w.Line() << "\n";
  if (!tables.ok()) {
    std::cout << FailureReport(tables.failure()).line << "\n" << tables.failure().detail() << "\n";
    return kExitTempFail;
  }
  Json lookups = Json::array();
  for (const NextHop& hop : hops.value()) {
    CredentialQuery q{o.sender.value_or(""), hop.host, hop.verbatim, s.sender_dependent, s.recipient_delimiter};
    LookupTrace trace;
    auto found = FindCredentials(tables.value(), q, &trace);
    if (!found.ok()) {
      std::cout << FailureReport(found.failure()).line << "\n" << found.failure().detail() << "\n";
      return kExitTempFail;
    }
    auto decision = TlsPolicyFor(s, hop, hop.host, found.value().has_value());
    if (!decision.ok()) {
      std::cout << FailureReport(decision.failure()).line << "\n" << decision.failure().detail() << "\n";
      return kExitTempFail;
    }
    TlsLevel level = decision.value().policy.level;
    const std::string& why = decision.value().level_why;
    if (o.json) {
      Json entry = {{"nexthop", hop.verbatim}, {"keys", trace}, {"found", found.value().has_value()}};
      if (found.value()) {
        entry["username"] = found.value()->username;
        if (!found.value()->oauth_store.empty()) {
          entry["oauth_store"] = found.value()->oauth_store;
        } else {
          auto password = ResolvePassword(*found.value(), PipeUserToJudgeAs(found.value()->password_file));
          entry["password_source"] = PasswordSource(*found.value());
          if (password.ok()) entry["password"] = SecretFingerprint(password.value().Reveal());
          else entry["password_error"] = password.failure().detail();
        }
      }
      entry["tls_level"] = TlsLevelName(level);
      lookups.push_back(std::move(entry));
    } else {
      std::cout << "next hop " << hop.verbatim << " (host " << hop.host << ", port " << hop.port << ")\n";
      for (const auto& t : trace) std::cout << "  " << t << "\n";
      if (found.value() && !found.value()->oauth_store.empty()) {
        std::cout << "  => username " << found.value()->username << ", OAuth token store "
                  << found.value()->oauth_store << " (see authrelay --oauth-status "
                  << found.value()->oauth_store << ")\n";
      } else if (found.value()) {
        // A password file is judged as the delivery will: as its owner.
        auto password = ResolvePassword(*found.value(), PipeUserToJudgeAs(found.value()->password_file));
        std::string from = found.value()->PasswordOutsideMap() ? " from " + PasswordSource(*found.value()) : "";
        if (password.ok()) {
          std::cout << "  => username " << found.value()->username << ", password" << from << " <hidden, "
                    << SecretFingerprint(password.value().Reveal()) << ">\n";
        } else {
          std::cout << "  => username " << found.value()->username << ", password" << from
                    << " UNUSABLE: " << password.failure().detail() << " (deliveries would defer)\n";
        }
      } else {
        std::cout << "  => no credentials: mail to this next hop is sent without AUTH\n";
      }
      std::cout << "  TLS level " << TlsLevelName(level) << " (" << why << ")\n";
    }
  }
  if (o.json) std::cout << DumpJson(Json{{"lookups", std::move(lookups)}}) << "\n";
  return kExitOk;
}

class EmptySource final : public MessageSource {
 public:
  long Read(char*, std::size_t) override { return 0; }
};

int RunProbe(const Options& o, const Context& ctx) {
  Envelope env;
  env.sender = o.sender.value_or("");
  env.recipients = {o.probe_rcpt.empty() ? std::string("postmaster") : o.probe_rcpt};
  EmptySource none;
  Deadline deadline = Deadline::AfterSeconds(std::min<long>(ctx.settings.deadline_seconds, 120));
  AttemptResult out = Attempt(ctx, env, o.target, none, deadline, /*dry_run=*/true, /*trace=*/true, &SystemDirectPath(),
                        nullptr);
  Report rep = ReportFor(out);
  std::string offered, chosen = out.chosen_mechanism;
  for (const auto& m : out.offered_mechanisms) offered += (offered.empty() ? "" : " ") + m;
  if (o.json) {
    Json probe = {{"nexthop", o.target}, {"relay", out.relay}, {"tls_level", TlsLevelName(out.level)}};
    if (out.tls) {
      probe["tls"] = {{"protocol", out.tls->protocol},
                      {"cipher", out.tls->cipher},
                      {"verified", out.tls->verified},
                      {"chain", out.tls->chain}};
    }
    probe["auth_offered"] = offered;
    probe["auth_chosen"] = chosen;
    probe["ok"] = out.delivered;
    probe["status"] = rep.line;
    probe["exit"] = rep.exit_code;
    std::cout << DumpJson(probe) << "\n";
  } else {
    std::cout << "relay: " << out.relay << "\n";
    std::cout << "TLS level: " << TlsLevelName(out.level) << " (" << out.level_why << ")\n";
    if (out.tls) {
      std::cout << "TLS: " << out.tls->protocol << " with cipher " << out.tls->cipher << ", "
                << (out.tls->verified ? "verified" : "NOT verified: " + out.tls->verify_error) << "\n";
      for (const auto& c : out.tls->chain) std::cout << "  " << c << "\n";
    }
    std::cout << "AUTH offered: " << (offered.empty() ? "(none)" : offered) << "\n";
    std::cout << "AUTH chosen: " << (chosen.empty() ? "(none)" : chosen) << "\n";
    std::cout << "result: " << rep.line << "\n";
    if (!out.delivered) {
      if (std::string fix = RemedyFor(*out.failure, out.port); !fix.empty()) std::cout << "fix: " << fix << "\n";
    }
  }
  return rep.exit_code;
}

}  // namespace

int RunOpsCommand(const Options& o) {
  if (o.mode == Mode::kHelp) {
    std::cout << UsageText();
    return kExitOk;
  }
  if (o.mode == Mode::kVersion) {
    std::cout << "authrelay " << AUTHRELAY_VERSION << "\n"
              << OpenSSL_version(OPENSSL_VERSION) << "\n"
              << "Cyrus SASL client mechanisms: " << SaslLibrary::Global().AvailableMechanisms() << "\n";
    return kExitOk;
  }
  InitLogging(o, "", o.verbose > 0 || o.mode == Mode::kProbe);
  auto ctx = LoadContext(o);
  if (!ctx.ok()) {
    std::cout << FailureReport(ctx.failure()).line << "\n";
    if (!ctx.failure().detail().empty()) std::cout << ctx.failure().detail() << "\n";
    return kExitTempFail;
  }
  if (!ctx.value().settings.log_file.empty()) InitLogging(o, ctx.value().settings.log_file, true);
  switch (o.mode) {
    case Mode::kLookup: return RunLookup(o, ctx.value());
    case Mode::kProbe: return RunProbe(o, ctx.value());
    case Mode::kCheck: return RunCheck(o, ctx.value());
    case Mode::kOAuthStatus: return RunOAuthStatus(o, ctx.value());
    case Mode::kOAuthEnrol: return RunOAuthEnrol(o, ctx.value());
    case Mode::kProviderProfile: return RunProviderProfile(o.target, ctx.value().cf);
    case Mode::kPostconf:
      for (const auto& name : o.recipients) std::cout << name << " = " << ctx.value().cf.Get(name) << "\n";
      return kExitOk;
    default: return kExitTempFail;
  }
}

}  // namespace authrelay
