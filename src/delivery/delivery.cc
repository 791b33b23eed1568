#include "delivery/delivery.h"

#include <fcntl.h>
#include <sasl/sasl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <ctime>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "config/main_cf.h"
#include "config/own_settings.h"
#include "config/settings.h"
#include "core/json.h"
#include "core/private_file.h"
#include "core/process.h"
#include "core/sanitize.h"
#include "credmap/credentials.h"
#include "delivery/attempt.h"
#include "delivery/context.h"
#include "delivery/profile_ops.h"
#include "delivery/remedy.h"
#include "log/log.h"
#include "net/connection.h"
#include "net/dns.h"
#include "net/proxy.h"
#include "oauth/http_client.h"
#include "delivery/sasl_factory.h"
#include "share/share.h"
#include "smtp/address.h"

namespace authrelay {

long FdMessageSource::Read(char* buf, std::size_t len) {
  for (;;) {
    ssize_t n = read(fd_, buf, len);
    if (n >= 0) return static_cast<long>(n);
    if (errno != EINTR) return -1;
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// What one run through the next-hop list ended with: one result from the
// session to the report (AttemptResult), DeliveryAttempt adding where and
// how it connected.
using Outcome = AttemptResult;

// The age of a queued message, from its arrival_time in "postqueue -j"
// (which any user may run): pipe(8) passes no arrival time. Only asked
// when a plaintext retry at level may depends on it. nullopt if unknown.
std::optional<long> QueuedMessageAge(const std::string& config_dir, const std::string& queue_id) {
  if (queue_id.empty()) return std::nullopt;
  for (char c : queue_id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 2);
    execl("/usr/sbin/postqueue", "postqueue", "-c", config_dir.c_str(), "-j", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);) {
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return MessageAgeFromPostqueue(out, queue_id, std::time(nullptr));
}

// The real attempt: smtp_sasl_password_maps and smtp_tls_policy_maps
// opened here, DNS and TCP through the system.
Outcome Attempt(const Context& ctx, const Envelope& env, const std::string& nexthop, MessageSource& message,
                Deadline deadline, bool dry_run, bool trace, const std::string& queue_id = "",
                const SharingConfig* sharing = nullptr) {
  const Settings& s = ctx.settings;
  std::optional<TableList> tables;
  if (s.sasl_enable && !Trim(s.password_maps).empty()) {
    std::vector<Notice> warnings;
    auto t = TableList::Open("smtp_sasl_password_maps", s.password_maps, &warnings);
    for (const auto& w : warnings) log::Warning(w.Line());
    if (!t.ok()) {
      Outcome out;
      out.failure = t.failure();
      auto hops = ParseNextHops(nexthop);
      if (hops.ok()) out.port = hops.value().front().port;
      return out;
    }
    tables = std::move(t).value();
  } else if (s.sasl_enable) {
    log::Warning("smtp_sasl_auth_enable = yes but smtp_sasl_password_maps is empty: no credentials to send");
  }
  DeliveryAttempt::CredentialsLookup credentials;
  if (tables) {
    credentials = [&](const NextHop& hop, const std::string& server) -> Result<std::optional<Credentials>> {
      // smtp(8) asks for the server host (the MX host) and the next hop.
      CredentialQuery q{env.sender, server, hop.verbatim, s.sender_dependent, s.recipient_delimiter};
      // The per-key trace and the password fingerprint cost work on every
      // delivery: only with -v.
      LookupTrace trace_lines;
      auto found = FindCredentials(*tables, q, log::DebugEnabled() ? &trace_lines : nullptr);
      for (const auto& line : trace_lines) log::Debug("smtp_sasl_password_maps: " + line);
      if (!found.ok()) return found.failure();
      const auto& creds = found.value();
      if (creds && log::DebugEnabled()) {
        log::Debug("smtp_sasl_password_maps: " + Printable(creds->matched_key, 200) + " found in " + creds->table +
                   ", user " + Printable(creds->username, 200) +
                   // Only the length: any digest a reader of the log can
                   // recompute would let them test guesses offline.
                   (!creds->oauth_store.empty()     ? ", OAuth token store " + creds->oauth_store
                    : !creds->PasswordOutsideMap() ? ", password of " + std::to_string(creds->password.size()) + " bytes"
                                                   : ", password from " + PasswordSource(*creds)));
      } else if (!creds) {
        log::Debug("smtp_sasl_password_maps: no credentials for " + Printable(hop.verbatim, 200));
      }
      return found;
    };
  }
  auto resolver = SystemResolver(s.inet_protocols);
  auto connector = SystemConnector(s.connect_timeout, s.bind_address, s.bind_address6, s.inet_protocols);
  DeliveryAttempt attempt(s, *resolver, *connector, credentials,
                          [&](const NextHop& hop) { return FindTlsPolicyEntry(s, hop); });
  attempt.SetMessageAge([&] { return QueuedMessageAge(ctx.cf.Get("config_directory"), queue_id); });
  // Egress proxy (authrelay_proxy / authrelay_proxy_maps), per next hop and server host.
  attempt.SetProxyLookup([&](const NextHop& hop, const std::string& server) {
    return FindProxy(ctx.cf.Get("authrelay_proxy"), ctx.cf.Get("authrelay_proxy_maps"), hop.verbatim, server);
  });
  attempt.SetSharing(sharing);
  return attempt.Run(env, nexthop, message, deadline, dry_run, trace);
}

std::string Seconds(Clock::time_point start) {
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

void InitLogging(const Options& o, const std::string& file, bool to_stderr) {
  log::Options lo;
  lo.file = !o.log_file.empty() ? o.log_file : file;
  lo.verbose = o.verbose;
  lo.to_stderr = to_stderr;
  log::Init(lo);
  log::SetQueueId(o.queue_id);
}

}  // namespace

Report Deliver(const Options& o, MessageSource& message) {
  auto start = Clock::now();
  InitLogging(o, "", false);  // syslog until main.cf says otherwise
  if (Status root = RefuseRoot(); !root.ok()) {
    log::Error(root.failure().detail());
    return FailureReport(root.failure());
  }
  auto ctx = LoadContext(o);
  if (!ctx.ok()) {
    log::Error(ctx.failure().detail().empty() ? ctx.failure().text() : ctx.failure().detail());
    return FailureReport(ctx.failure());
  }
  const Settings& s = ctx.value().settings;
  if (!s.log_file.empty() || !o.log_file.empty()) InitLogging(o, s.log_file, false);
  LogOwnInMainCfHintOnce(s.config_dir, StateDirectory(s.tls.session_cache_file), ctx.value().own_in_main_cf);

  Envelope env;
  env.sender = *o.sender;
  env.recipients = o.recipients;
  env.size = o.size;
  // ORCPT is optional information: a count that does not pair up with the
  // recipients (an edited master.cf entry) sends none rather than wrong ones.
  if (o.original_recipients.size() == o.recipients.size()) {
    env.original_recipients = o.original_recipients;
  } else if (!o.original_recipients.empty()) {
    log::Warning("--orcpt given " + std::to_string(o.original_recipients.size()) + " times for " +
                 std::to_string(o.recipients.size()) + " recipients: no ORCPT sent (the master.cf argv needs "
                 "--orcpt=${original_recipient} once, before --)");
  }
  auto report_all = [&](const std::string& relay, const std::string& dsn, const std::string& status,
                        const std::string& text) {
    for (const auto& r : env.recipients) {
      log::Info("to=<" + Printable(r, 300) + ">, relay=" + relay + ", delay=" + Seconds(start) + ", dsn=" + dsn +
                ", status=" + status + " (" + Printable(text, 900) + ")");
    }
  };
  if (EnvelopePath p = MakeEnvelopePath(env.sender, /*null_allowed=*/true); !p.ok()) {
    Failure f("5.1.7", "bad sender address syntax: " + p.problem);
    report_all("none", f.dsn(), "bounced", f.text());
    return FailureReport(f, s.soft_bounce);
  }
  // A recipient we cannot send is refused on its own, like a recipient the
  // server refuses: one run is one transaction with one status for all, so
  // the run bounces only when every recipient was refused; otherwise nothing
  // is sent and the run defers, so no good recipient is bounced or lost.
  std::vector<std::string> refused;
  for (const auto& r : env.recipients) {
    if (EnvelopePath p = MakeEnvelopePath(r, /*null_allowed=*/false); !p.ok()) {
      refused.push_back("bad recipient address syntax: " + p.problem + ": <" + Printable(r, 80) + ">");
    }
  }
  if (!refused.empty()) {
    bool all = refused.size() == env.recipients.size();
    std::string text = refused.front();
    if (refused.size() > 1) text += " (and " + std::to_string(refused.size() - 1) + " more recipients refused)";
    if (!all) {
      text += "; nothing was sent, so the other recipients are deferred too "
              "(authrelay_destination_recipient_limit = 1 gives each recipient its own status)";
    }
    Failure f(all ? "5.1.3" : "4.1.3", text);
    report_all("none", f.dsn(), all ? "bounced" : "deferred", f.text());
    return FailureReport(f, s.soft_bounce);
  }

  Deadline deadline = Deadline::AfterSeconds(s.deadline_seconds);
  std::optional<SharingConfig> sharing;
  if (auto share_settings = share::LoadShareSettings(ctx.value().cf); !share_settings.ok()) {
    log::Warning(share_settings.failure().text() + " (connection sharing off)");
  } else if (share_settings.value().enabled) {
    sharing.emplace();
    sharing->settings = share_settings.value();
    sharing->log.file = !o.log_file.empty() ? o.log_file : s.log_file;
    sharing->log.verbose = o.verbose;
  }
  Outcome out = Attempt(ctx.value(), env, *o.nexthop, message, deadline, o.dry_run, o.trace, o.queue_id,
                        sharing ? &*sharing : nullptr);
  if (out.conn_use > 1) out.relay += ", conn_use=" + std::to_string(out.conn_use);
  Report rep = ReportFor(out, s.soft_bounce);
  if (out.delivered) {
    report_all(out.relay, "2.0.0", "sent", out.final_reply);
    return rep;
  }
  const std::string& dsn = rep.dsn;
  if (!out.failure->detail().empty()) log::Info("detail: " + out.failure->detail());
  if (std::string fix = RemedyFor(*out.failure, out.port); !fix.empty()) log::Info("fix: " + fix);
  report_all(out.relay, dsn, rep.exit_code == kExitBounce ? "bounced" : "deferred", out.failure->text());
  return rep;
}

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
  Outcome out = Attempt(ctx, env, o.target, none, deadline, /*dry_run=*/true, /*trace=*/true);
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
