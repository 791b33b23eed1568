#include "delivery/delivery.h"

#include <sasl/sasl.h>
#include <unistd.h>

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
#include "delivery/context.h"
#include "delivery/remedy.h"
#include "log/log.h"
#include "net/connection.h"
#include "net/dns.h"
#include "oauth/http_client.h"
#include "sasl/oauth_client.h"
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

// What one run through the next-hop list ended with.
struct Outcome {
  bool delivered = false;
  std::optional<Failure> failure;
  std::string relay = "none";
  int port = 0;
  std::string reply;
  std::optional<TlsInfo> tls;
  AttemptResult attempt;
  TlsLevel level = TlsLevel::kMay;
  std::string level_why;
};

Outcome Attempt(const Context& ctx, const Envelope& env, const std::string& nexthop, MessageSource& message,
                Deadline deadline, bool dry_run, bool trace) {
  Outcome out;
  const Settings& s = ctx.settings;
  auto hops = ParseNextHops(nexthop);
  if (!hops.ok()) {
    out.failure = hops.failure();
    return out;
  }
  out.port = hops.value().front().port;
  std::optional<TableList> tables;
  if (s.sasl_enable && !Trim(s.password_maps).empty()) {
    std::vector<std::string> warnings;
    auto t = TableList::Open("smtp_sasl_password_maps", s.password_maps, &warnings);
    for (const auto& w : warnings) log::Warning(w);
    if (!t.ok()) {
      out.failure = t.failure();
      return out;
    }
    tables = std::move(t).value();
  } else if (s.sasl_enable) {
    log::Warning("smtp_sasl_auth_enable = yes but smtp_sasl_password_maps is empty: no credentials to send");
  }

  // One server host of a next hop (the bracketed host, or one MX host):
  // credentials, TLS policy, then every address. Returns true when the
  // attempt is over (delivered, or a verdict that must not fail over).
  auto try_server = [&](const NextHop& hop, const std::string& server) -> bool {
    std::optional<Credentials> creds;
    if (tables) {
      // smtp(8) asks for the server host (the MX host) and the next hop.
      CredentialQuery q{env.sender, server, hop.verbatim, s.sender_dependent, s.recipient_delimiter};
      // The per-key trace and the password fingerprint cost work on every
      // delivery: only with -v.
      LookupTrace trace_lines;
      auto found = FindCredentials(*tables, q, log::DebugEnabled() ? &trace_lines : nullptr);
      for (const auto& line : trace_lines) log::Debug("smtp_sasl_password_maps: " + line);
      if (!found.ok()) {
        out.failure = found.failure();
        return true;  // a table error defers; never "send without AUTH"
      }
      creds = std::move(found).value();
      if (creds && log::DebugEnabled()) {
        log::Debug("smtp_sasl_password_maps: " + Printable(creds->matched_key, 200) + " found in " + creds->table +
                   ", user " + Printable(creds->username, 200) +
                   // Only the length: any digest a reader of the log can
                   // recompute would let them test guesses offline.
                   (creds->oauth_store.empty() ? ", password of " + std::to_string(creds->password.size()) + " bytes"
                                               : ", OAuth token store " + creds->oauth_store));
      } else if (!creds) {
        log::Debug("smtp_sasl_password_maps: no credentials for " + Printable(hop.verbatim, 200));
      }
    }
    std::string why;
    TlsLevel level = EffectiveTlsLevel(s, creds.has_value(), hop, &why);
    TlsPolicy tls_policy = MakeTlsPolicy(s, level, hop, server);
    if (!Trim(s.tls_policy_maps).empty()) {
      auto policy = FindTlsPolicy(s, hop, &level, &tls_policy);
      if (!policy.ok()) {
        out.failure = policy.failure();
        log::Warning(policy.failure().detail());
        return false;  // smtp(8) skips the host with "client TLS configuration problem"
      }
      if (policy.value()) why = "smtp_tls_policy_maps";
    }
    out.level = level;
    out.level_why = why;
    if (log::DebugEnabled()) log::Debug("TLS level " + std::string(TlsLevelName(level)) + " for " + Printable(hop.verbatim, 200) + " (" + why + ")");
    TlsClient tls(tls_policy);

    auto endpoints = ResolveHost(server, hop.port, s.inet_protocols);
    if (!endpoints.ok()) {
      log::Info(endpoints.failure().text());
      out.failure = Failure("4.4.3", endpoints.failure().text(), endpoints.failure().detail());
      return false;
    }
    out.port = hop.port;
    for (const Endpoint& ep : endpoints.value()) {
      if (deadline.Expired()) break;
      const std::string& bind = ep.sa.ss_family == AF_INET6 ? s.bind_address6 : s.bind_address;
      auto fd = ConnectTo(ep, Deadline::AfterSeconds(s.connect_timeout).Min(deadline), bind);
      if (!fd.ok()) {
        log::Info(fd.failure().text());
        out.failure = fd.failure();
        out.relay = "none";
        continue;
      }
      Connection conn(std::move(fd).value(), level == TlsLevel::kNone ? nullptr : &tls);
      SessionPolicy policy = s.session;
      policy.tls_level = level;
      policy.wrappermode = ImplicitTls(s, hop);
      policy.credentials = creds ? &*creds : nullptr;
      policy.dry_run = dry_run;
      policy.trace = trace;
      if (policy.credentials) {
        policy.sasl_factory = MakeSaslFactory(*policy.credentials, ep.host, ep.port, s.oauth_refresh_window,
                                              MakeCurlPost(s.ca_file, s.ca_path, 30));
      }
      Session session(conn, ep.HostAddr(), ep.port, policy);
      AttemptResult r = session.Run(env, message, deadline);
      out.relay = ep.Name();
      if (conn.tls()) {
        out.tls = *conn.tls();
        // Only a session whose handshake this policy accepted is reused.
        if (!TlsVerifies(level) || conn.tls()->verified) tls.SaveSession();
      }
      out.attempt = r;
      if (r.delivered) {
        out.delivered = true;
        out.failure.reset();
        out.reply = r.final_reply;
        return true;
      }
      out.failure = r.failure;
      if (out.failure) log::Info(out.failure->text() + (out.failure->detail().empty() ? "" : " (" + out.failure->detail() + ")"));
      if (!r.try_next) return true;
    }
    return false;
  };

  for (const NextHop& hop : hops.value()) {
    std::vector<std::string> servers = {hop.host};
    if (!hop.bracketed) {
      auto mx = LookupMx(hop.host);
      if (!mx.ok()) {
        log::Info(mx.failure().text());
        out.failure = mx.failure();
        continue;
      }
      servers.clear();
      for (const auto& m : mx.value()) servers.push_back(m.host);
    }
    for (const std::string& server : servers) {
      if (deadline.Expired()) break;
      if (try_server(hop, server)) return out;
    }
  }
  if (deadline.Expired() && !out.failure) {
    out.failure = Failure("4.4.2", "delivery time limit exceeded (authrelay_time_limit)");
  }
  if (!out.failure) out.failure = Failure("4.3.0", "server unavailable or unable to receive mail");
  return out;
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
  Outcome out = Attempt(ctx.value(), env, *o.nexthop, message, deadline, o.dry_run, o.trace);
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
    std::string why;
    TlsLevel level = EffectiveTlsLevel(s, found.value().has_value(), hop, &why);
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
