#include "delivery/delivery.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

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
#include "net/dns.h"
#include "net/proxy.h"
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

// authrelay-reuse's: it never connects itself (DeliveryAttempt stops
// before that in held-only mode), so this is never asked.
class NoConnector final : public Connector {
 public:
  Result<std::unique_ptr<Link>> Connect(const Endpoint&, const TlsPolicy&, Deadline, const ProxyConfig*) override {
    return Failure("4.3.0", "internal error: no direct connections in this program");
  }
};

}  // namespace

// The real attempt: smtp_sasl_password_maps and smtp_tls_policy_maps
// opened here, DNS through the system; TCP, TLS and SASL through `direct`,
// or held sessions only when it is null (authrelay-reuse).
Outcome Attempt(const Context& ctx, const Envelope& env, const std::string& nexthop, MessageSource& message,
                Deadline deadline, bool dry_run, bool trace, const DirectPath* direct, bool* needs_direct,
                const std::string& queue_id, const SharingConfig* sharing) {
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
  std::unique_ptr<Connector> connector = direct ? direct->connector(s) : std::make_unique<NoConnector>();
  DeliveryAttempt attempt(s, *resolver, *connector, credentials,
                          [&](const NextHop& hop) { return FindTlsPolicyEntry(s, hop); });
  if (direct) {
    attempt.SetSaslFactoryMaker(direct->sasl(s));
  } else {
    attempt.SetHeldOnly(true);
  }
  attempt.SetMessageAge([&] { return QueuedMessageAge(ctx.cf.Get("config_directory"), queue_id); });
  // Egress proxy (authrelay_proxy / authrelay_proxy_maps), per next hop and server host.
  attempt.SetProxyLookup([&](const NextHop& hop, const std::string& server) {
    return FindProxy(ctx.cf.Get("authrelay_proxy"), ctx.cf.Get("authrelay_proxy_maps"), hop.verbatim, server);
  });
  attempt.SetSharing(sharing);
  Outcome out = attempt.Run(env, nexthop, message, deadline, dry_run, trace);
  if (needs_direct) *needs_direct = attempt.needs_direct();
  return out;
}

namespace {

std::string Seconds(Clock::time_point start) {
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

}  // namespace

void InitLogging(const Options& o, const std::string& file, bool to_stderr) {
  log::Options lo;
  lo.file = !o.log_file.empty() ? o.log_file : file;
  lo.verbose = o.verbose;
  lo.to_stderr = to_stderr;
  log::Init(lo);
  log::SetQueueId(o.queue_id);
}

int ReportBadOptions(const Failure& failure) {
  Report report = FailureReport(failure);
  std::fprintf(stdout, "%s\n", report.line.c_str());
  if (!failure.detail().empty() && isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "%s\n%s", failure.detail().c_str(), UsageText().c_str());
  }
  return report.exit_code;
}

std::optional<Report> Deliver(const Options& o, MessageSource& message, const DirectPath* direct, bool held_tried,
                              Clock::time_point started) {
  const auto start = std::min(started, Clock::now());
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
  {
    // Logged once, marked as logged: at once even in authrelay-reuse
    // (authrelay, if it takes over, finds the mark).
    log::Unheld unheld;
    LogOwnInMainCfHintOnce(s.config_dir, StateDirectory(s.tls.session_cache_file), ctx.value().own_in_main_cf);
  }

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

  // From the run's start, not this program's: Postfix's time limit counts
  // authrelay-reuse's time too.
  Deadline deadline(start + std::chrono::seconds(s.deadline_seconds));
  std::optional<SharingConfig> sharing;
  if (auto share_settings = share::LoadShareSettings(ctx.value().cf); !share_settings.ok()) {
    log::Warning(share_settings.failure().text() + " (connection sharing off)");
  } else if (share_settings.value().enabled) {
    sharing.emplace();
    sharing->settings = share_settings.value();
    sharing->log.file = !o.log_file.empty() ? o.log_file : s.log_file;
    sharing->log.verbose = o.verbose;
    sharing->skip_held = held_tried;
  }
  // Without sharing there is no held session to use: straight to the
  // program that connects itself, before any map or DNS work.
  if (!direct && !sharing) return std::nullopt;
  bool needs_direct = false;
  Outcome out = Attempt(ctx.value(), env, *o.nexthop, message, deadline, o.dry_run, o.trace, direct, &needs_direct,
                        o.queue_id, sharing ? &*sharing : nullptr);
  if (needs_direct) return std::nullopt;
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

}  // namespace authrelay
