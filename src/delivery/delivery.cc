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
#include "config/settings.h"
#include "core/process.h"
#include "core/sanitize.h"
#include "credmap/credentials.h"
#include "delivery/attempt.h"
#include "delivery/context.h"
#include "delivery/remedy.h"
#include "log/log.h"
#include "net/connection.h"
#include "net/dns.h"
#include "oauth/http_client.h"
#include "sasl/oauth_client.h"

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

using Outcome = AttemptOutcome;

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
                Deadline deadline, bool dry_run, bool trace, const std::string& queue_id = "") {
  const Settings& s = ctx.settings;
  std::optional<TableList> tables;
  if (s.sasl_enable && !Trim(s.password_maps).empty()) {
    std::vector<std::string> warnings;
    auto t = TableList::Open("smtp_sasl_password_maps", s.password_maps, &warnings);
    for (const auto& w : warnings) log::Warning(w);
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
                   (creds->oauth_store.empty() ? ", password " + SecretFingerprint(creds->password.Reveal())
                                               : ", OAuth token store " + creds->oauth_store));
      } else if (!creds) {
        log::Debug("smtp_sasl_password_maps: no credentials for " + Printable(hop.verbatim, 200));
      }
      return found;
    };
  }
  auto resolver = SystemResolver(s.inet_protocols);
  auto connector = SystemConnector(s.connect_timeout, s.bind_address, s.bind_address6);
  DeliveryAttempt attempt(s, *resolver, *connector, credentials,
                          [&](const NextHop& hop) { return FindTlsPolicyEntry(s, hop); });
  attempt.SetMessageAge([&] { return QueuedMessageAge(ctx.cf.Get("config_directory"), queue_id); });
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

  Envelope env;
  env.sender = *o.sender;
  env.recipients = o.recipients;
  env.size = o.size;
  auto report_all = [&](const std::string& relay, const std::string& dsn, const std::string& status,
                        const std::string& text) {
    for (const auto& r : env.recipients) {
      log::Info("to=<" + Printable(r, 300) + ">, relay=" + relay + ", delay=" + Seconds(start) + ", dsn=" + dsn +
                ", status=" + status + " (" + Printable(text, 900) + ")");
    }
  };
  if (std::string why = AddressProblem(env.sender); !why.empty()) {
    Failure f("5.1.7", "bad sender address syntax: " + why);
    report_all("none", f.dsn(), "bounced", f.text());
    return FailureReport(f, s.soft_bounce);
  }
  for (const auto& r : env.recipients) {
    if (std::string why = AddressProblem(r); !why.empty()) {
      Failure f("5.1.3", "bad recipient address syntax: " + why);
      report_all("none", f.dsn(), "bounced", f.text());
      return FailureReport(f, s.soft_bounce);
    }
  }

  Deadline deadline = Deadline::AfterSeconds(s.deadline_seconds);
  Outcome out = Attempt(ctx.value(), env, *o.nexthop, message, deadline, o.dry_run, o.trace, o.queue_id);
  if (out.delivered) {
    report_all(out.relay, "2.0.0", "sent", out.reply);
    return SuccessReport(out.reply);
  }
  Report rep = FailureReport(*out.failure, s.soft_bounce);
  std::string dsn = rep.line.substr(0, rep.line.find(' '));
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
  std::vector<std::string> warnings;
  auto tables = TableList::Open("smtp_sasl_password_maps", s.password_maps, &warnings);
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
  if (!tables.ok()) {
    std::cout << FailureReport(tables.failure()).line << "\n" << tables.failure().detail() << "\n";
    return kExitTempFail;
  }
  if (o.json) std::cout << "{\"lookups\":[";
  bool first_hop = true;
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
      std::cout << (first_hop ? "" : ",") << "{\"nexthop\":";
      JsonString(std::cout, hop.verbatim);
      std::cout << ",\"keys\":[";
      for (std::size_t i = 0; i < trace.size(); ++i) {
        if (i) std::cout << ",";
        JsonString(std::cout, trace[i]);
      }
      std::cout << "],\"found\":" << (found.value() ? "true" : "false");
      if (found.value()) {
        std::cout << ",\"username\":";
        JsonString(std::cout, found.value()->username);
        if (!found.value()->oauth_store.empty()) {
          std::cout << ",\"oauth_store\":";
          JsonString(std::cout, found.value()->oauth_store);
        } else {
          std::cout << ",\"password\":";
          JsonString(std::cout, SecretFingerprint(found.value()->password.Reveal()));
        }
      }
      std::cout << ",\"tls_level\":\"" << TlsLevelName(level) << "\"}";
    } else {
      std::cout << "next hop " << hop.verbatim << " (host " << hop.host << ", port " << hop.port << ")\n";
      for (const auto& t : trace) std::cout << "  " << t << "\n";
      if (found.value() && !found.value()->oauth_store.empty()) {
        std::cout << "  => username " << found.value()->username << ", OAuth token store "
                  << found.value()->oauth_store << " (see authrelay --oauth-status "
                  << found.value()->oauth_store << ")\n";
      } else if (found.value()) {
        std::cout << "  => username " << found.value()->username << ", password <hidden, "
                  << SecretFingerprint(found.value()->password.Reveal()) << ">\n";
      } else {
        std::cout << "  => no credentials: mail to this next hop is sent without AUTH\n";
      }
      std::cout << "  TLS level " << TlsLevelName(level) << " (" << why << ")\n";
    }
    first_hop = false;
  }
  if (o.json) std::cout << "]}\n";
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
  Report rep = out.delivered ? SuccessReport(out.reply) : FailureReport(*out.failure);
  std::string offered, chosen = out.attempt.chosen_mechanism;
  for (const auto& m : out.attempt.offered_mechanisms) offered += (offered.empty() ? "" : " ") + m;
  if (o.json) {
    std::cout << "{\"nexthop\":";
    JsonString(std::cout, o.target);
    std::cout << ",\"relay\":";
    JsonString(std::cout, out.relay);
    std::cout << ",\"tls_level\":\"" << TlsLevelName(out.level) << "\"";
    if (out.tls) {
      std::cout << ",\"tls\":{\"protocol\":";
      JsonString(std::cout, out.tls->protocol);
      std::cout << ",\"cipher\":";
      JsonString(std::cout, out.tls->cipher);
      std::cout << ",\"verified\":" << (out.tls->verified ? "true" : "false") << ",\"chain\":[";
      for (std::size_t i = 0; i < out.tls->chain.size(); ++i) {
        if (i) std::cout << ",";
        JsonString(std::cout, out.tls->chain[i]);
      }
      std::cout << "]}";
    }
    std::cout << ",\"auth_offered\":";
    JsonString(std::cout, offered);
    std::cout << ",\"auth_chosen\":";
    JsonString(std::cout, chosen);
    std::cout << ",\"ok\":" << (out.delivered ? "true" : "false") << ",\"status\":";
    JsonString(std::cout, rep.line);
    std::cout << ",\"exit\":" << rep.exit_code << "}\n";
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
    case Mode::kPostconf:
      for (const auto& name : o.recipients) std::cout << name << " = " << ctx.value().cf.Get(name) << "\n";
      return kExitOk;
    default: return kExitTempFail;
  }
}

}  // namespace authrelay
