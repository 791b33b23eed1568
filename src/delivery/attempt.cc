#include "delivery/attempt.h"

#include <charconv>

#include "core/sanitize.h"
#include "log/log.h"
#include "share/key.h"

namespace authrelay {
namespace {

class SystemResolverImpl final : public Resolver {
 public:
  explicit SystemResolverImpl(std::string inet_protocols) : inet_protocols_(std::move(inet_protocols)) {}
  Result<std::vector<MxHost>> LookupMx(const std::string& domain) override { return authrelay::LookupMx(domain); }
  Result<std::vector<Endpoint>> Addresses(const std::string& host, std::uint16_t port) override {
    return ResolveHost(host, port, inet_protocols_);
  }

 private:
  std::string inet_protocols_;
};

}  // namespace

std::unique_ptr<Resolver> SystemResolver(std::string inet_protocols) {
  return std::make_unique<SystemResolverImpl>(std::move(inet_protocols));
}

std::optional<long> MessageAgeFromPostqueue(const std::string& json_lines, const std::string& queue_id, long now) {
  std::size_t start = 0;
  while (start < json_lines.size()) {
    std::size_t end = json_lines.find('\n', start);
    if (end == std::string::npos) end = json_lines.size();
    std::string_view line(json_lines.data() + start, end - start);
    start = end + 1;
    if (line.find("\"queue_id\": \"" + queue_id + "\"") == std::string_view::npos &&
        line.find("\"queue_id\":\"" + queue_id + "\"") == std::string_view::npos) {
      continue;
    }
    auto at = line.find("\"arrival_time\"");
    if (at == std::string_view::npos) return std::nullopt;
    at = line.find(':', at);
    if (at == std::string_view::npos) return std::nullopt;
    ++at;
    while (at < line.size() && line[at] == ' ') ++at;
    long arrival = 0;
    auto [p, ec] = std::from_chars(line.data() + at, line.data() + line.size(), arrival);
    if (ec != std::errc() || p == line.data() + at) return std::nullopt;
    return now - arrival;
  }
  return std::nullopt;
}

bool DeliveryAttempt::TryServer(const NextHop& hop, const std::string& server, const Envelope& env,
                                MessageSource& message, Deadline deadline, bool dry_run, bool trace,
                                AttemptOutcome& out) {
  std::optional<Credentials> creds;
  if (credentials_) {
    auto found = credentials_(hop, server);
    if (!found.ok()) {
      out.failure = found.failure();
      return true;  // a table error defers; never "send without AUTH"
    }
    creds = std::move(found).value();
  }
  // The policy is looked up per next hop, and resolved per server host:
  // names, SNI and the session-cache key belong to the host connected to.
  std::optional<std::string> entry;
  if (policy_) {
    auto e = policy_(hop);
    if (!e.ok()) {
      out.failure = e.failure();
      log::Warning(e.failure().detail());
      return false;  // smtp(8) skips the host with "client TLS configuration problem"
    }
    entry = std::move(e).value();
  }
  auto decision = ResolveTlsPolicy(s_.tls, {hop.verbatim, hop.host, server, hop.port}, creds.has_value(), entry);
  if (!decision.ok()) {
    out.failure = decision.failure();
    log::Warning(decision.failure().detail());
    return false;
  }
  const TlsPolicy& tls_policy = decision.value().policy;
  TlsLevel level = tls_policy.level;
  out.level = level;
  out.level_why = decision.value().level_why;
  if (log::DebugEnabled()) {
    std::string names;
    for (const auto& n : tls_policy.level == TlsLevel::kFingerprint ? tls_policy.fingerprints : tls_policy.match_names) {
      names += (names.empty() ? "" : ", ") + n;
    }
    log::Debug("TLS level " + std::string(TlsLevelName(level)) + " for " + Printable(hop.verbatim, 200) + " (" +
               out.level_why + "), server " + Printable(server, 200) + ": match " +
               (names.empty() ? "(none)" : Printable(names, 300)) + ", SNI " +
               (tls_policy.server_name.empty() ? "(none)" : tls_policy.server_name) + ", session cache peer " +
               Printable(tls_policy.session_peer, 300));
  }

  // Egress proxy: the proxy resolves the server's name, so there is one
  // endpoint, by name. A proxy setting that cannot be used defers; it never
  // means "go direct instead".
  std::optional<ProxyConfig> proxy;
  if (proxy_) {
    auto p = proxy_(hop, server);
    if (!p.ok()) {
      out.failure = p.failure();
      return true;
    }
    proxy = std::move(p).value();
  }
  auto endpoints = proxy ? Result<std::vector<Endpoint>>(std::vector<Endpoint>{ProxiedEndpoint(server, hop.port)})
                         : resolver_.Addresses(server, hop.port);
  if (!endpoints.ok()) {
    log::Info(endpoints.failure().text());
    out.failure = Failure("4.4.3", endpoints.failure().text(), endpoints.failure().detail());
    return false;
  }
  out.port = hop.port;
  // One connection and session with `policy`. kOver: delivered or a final
  // verdict; kNext: try the next candidate.
  enum class Step { kOver, kNext };
  bool handshake_failed = false;
  auto run_once = [&](const Endpoint& ep, const TlsPolicy& policy_for_link) -> Step {
    handshake_failed = false;
    // Connection sharing: a holder may keep an authenticated session with
    // exactly this key (server, credentials, TLS policy, SASL settings,
    // HELO, user); running over it needs no OpenSSL, CA or SASL set-up.
    std::string share_name;
    if (sharing_ && policy_for_link.level != TlsLevel::kNone && !dry_run) {
      auto name = share::KeyName(sharing_->settings.directory,
                                 share::SessionKeyMaterial(s_, hop, ep, creds ? &*creds : nullptr, policy_for_link,
                                                           decision.value().implicit_tls, proxy ? &*proxy : nullptr));
      if (name.ok()) {
        share_name = name.value();
      } else {
        log::Warning(name.failure().text() + ": " + name.failure().detail());
      }
    }
    if (!share_name.empty() && !sharing_->skip_held) {
      // What happens here is logged at once even in authrelay-reuse: if it
      // hands over to authrelay, that one does not try again.
      log::Unheld unheld;
      if (auto held = share::ConnectHeld(sharing_->settings, share_name, deadline)) {
        SessionPolicy policy = s_.session;
        policy.tls_level = policy_for_link.level;
        if (creds) policy.sasl_username = creds->username;
        policy.trace = trace;
        policy.keep_open = true;
        policy.resume = held->status().caps;
        if (creds && !creds->password.empty()) policy.known_password = &creds->password;
        log::Debug("connection sharing: using the session held by pid " + std::to_string(held->status().pid) +
                   " to " + held->status().server + " (conn_use=" + std::to_string(held->status().use) + ")");
        Session session(*held, ep.HostAddr(), ep.port, policy);
        AttemptResult r = session.Run(env, message, deadline);
        if (r.delivered) held->MarkClean(Deadline::AfterSeconds(5));
        if (r.delivered || !r.try_next) {
          r.relay = ep.Name();
          r.port = hop.port;
          r.level = out.level;
          r.level_why = out.level_why;
          r.tls = held->status().tls;
          r.conn_use = held->status().use;
          out = std::move(r);
          if (out.failure) {
            log::Info(out.failure->text() + (out.failure->detail().empty() ? "" : " (" + out.failure->detail() + ")"));
          }
          return Step::kOver;
        }
        log::Info("shared session to " + ep.Name() + " unusable (" + (r.failure ? r.failure->text() : "") +
                  "); connecting directly");
      }
    }
    if (held_only_) {
      needs_direct_ = true;
      return Step::kOver;
    }
    auto link = connector_.Connect(ep, policy_for_link, deadline, proxy ? &*proxy : nullptr);
    if (!link.ok()) {
      const Failure& f = link.failure();
      log::Info(f.text() + (f.detail().empty() ? "" : ": " + f.detail()));
      out.failure = f;
      out.relay = "none";
      return Step::kNext;
    }
    Transport& conn = link.value()->transport();
    SessionPolicy policy = s_.session;
    policy.tls_level = policy_for_link.level;
    policy.wrappermode = decision.value().implicit_tls;
    if (creds) policy.sasl_username = creds->username;
    // A server may quote the password back before AUTH (or without it):
    // the scrubber knows it from the start.
    if (creds && !creds->password.empty()) policy.known_password = &creds->password;
    policy.dry_run = dry_run;
    policy.trace = trace;
    policy.keep_open = !share_name.empty() && share::SlotFree(sharing_->settings, share_name);
    if (!share_name.empty()) {
      log::Debug(std::string("connection sharing: ") +
                 (policy.keep_open ? "the session will be offered to a holder" : "every holder slot is taken") +
                 " (key " + share_name + ")");
    }
    if (creds && sasl_maker_) policy.sasl_factory = sasl_maker_(*creds, ep, proxy ? &*proxy : nullptr, deadline);
    Session session(conn, ep.HostAddr(), ep.port, policy);
    AttemptResult r = session.Run(env, message, deadline);
    handshake_failed = link.value()->TlsHandshakeFailed();
    r.relay = ep.Name();
    r.port = hop.port;
    r.level = out.level;
    r.level_why = out.level_why;
    if (conn.tls()) {
      r.tls = *conn.tls();
      // Only a session whose handshake this policy accepted is reused.
      if (!TlsVerifies(policy_for_link.level) || conn.tls()->verified) link.value()->SaveTlsSession();
    }
    out = std::move(r);
    if (out.delivered) {
      if (policy.keep_open) {
        // The session was left open (no QUIT) for a holder.
        if (out.tls && link.value()->Hold(sharing_->settings, share_name, out.relay, out.capabilities, *out.tls,
                                          sharing_->log)) {
          out.conn_use = 1;
        } else {
          (void)conn.Write("QUIT\r\n", Deadline::AfterSeconds(1));
        }
      }
      return Step::kOver;
    }
    if (out.failure) {
      log::Info(out.failure->text() + (out.failure->detail().empty() ? "" : " (" + out.failure->detail() + ")"));
    }
    return out.try_next ? Step::kNext : Step::kOver;
  };
  for (const Endpoint& ep : endpoints.value()) {
    if (deadline.Expired()) break;
    if (run_once(ep, tls_policy) == Step::kOver) return true;
    // At "may", after a failed handshake, smtp(8) tries the same server
    // again without TLS, but only when no credentials are involved and the
    // message has waited longer than minimal_backoff_time (so a passing
    // glitch does not downgrade fresh mail).
    if (handshake_failed && level == TlsLevel::kMay && !creds && !deadline.Expired()) {
      std::optional<long> age = message_age_ ? message_age_() : std::nullopt;
      if (age && *age > s_.minimal_backoff_time) {
        log::Info("TLS handshake with " + ep.Name() + " failed at level may; the message has waited " +
                  std::to_string(*age) + "s (more than minimal_backoff_time): trying again without TLS");
        TlsPolicy plain = tls_policy;
        plain.level = TlsLevel::kNone;
        if (run_once(ep, plain) == Step::kOver) return true;
      } else {
        log::Info("TLS handshake with " + ep.Name() + " failed at level may; no plaintext retry: " +
                  (age ? "the message has waited only " + std::to_string(*age) + "s (minimal_backoff_time " +
                             std::to_string(s_.minimal_backoff_time) + "s)"
                       : std::string("the message's age is unknown")));
      }
    }
  }
  return false;
}

AttemptOutcome DeliveryAttempt::Run(const Envelope& env, const std::string& nexthop, MessageSource& message,
                                    Deadline deadline, bool dry_run, bool trace) {
  AttemptOutcome out;
  auto hops = ParseNextHops(nexthop);
  if (!hops.ok()) {
    out.failure = hops.failure();
    return out;
  }
  out.port = hops.value().front().port;
  for (const NextHop& hop : hops.value()) {
    std::vector<std::string> servers = {hop.host};
    if (!hop.bracketed) {
      auto mx = resolver_.LookupMx(hop.host);
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
      if (TryServer(hop, server, env, message, deadline, dry_run, trace, out)) return out;
    }
  }
  if (deadline.Expired() && !out.failure) {
    out.failure = Failure("4.4.2", "delivery time limit exceeded (authrelay_time_limit)");
  }
  if (!out.failure) out.failure = Failure("4.3.0", "server unavailable or unable to receive mail");
  return out;
}

}  // namespace authrelay
