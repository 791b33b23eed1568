#include "delivery/attempt.h"

#include "core/sanitize.h"
#include "log/log.h"
#include "oauth/http_client.h"
#include "sasl/oauth_client.h"

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

class SystemLink final : public Link {
 public:
  explicit SystemLink(const TlsPolicy& policy) : tls_(policy) {}
  // The TLS context is built before connecting, so a CA or key setting
  // that cannot work is reported as a configuration problem, not as a
  // failed handshake with a server that did nothing wrong.
  Status Prepare() {
    if (tls_.policy().level < TlsLevel::kVerify && tls_.policy().cert_file.empty()) return {};
    auto ctx = tls_.Context();
    if (!ctx.ok()) return ctx.failure();
    return {};
  }
  void Attach(UniqueFd fd) {
    conn_.emplace(std::move(fd), tls_.policy().level == TlsLevel::kNone ? nullptr : &tls_);
  }
  Transport& transport() override { return *conn_; }
  void SaveTlsSession() override { tls_.SaveSession(); }

 private:
  TlsClient tls_;  // before conn_: the connection points at it
  std::optional<Connection> conn_;
};

class SystemConnectorImpl final : public Connector {
 public:
  SystemConnectorImpl(long connect_timeout, std::string bind4, std::string bind6)
      : connect_timeout_(connect_timeout), bind4_(std::move(bind4)), bind6_(std::move(bind6)) {}
  Result<std::unique_ptr<Link>> Connect(const Endpoint& ep, const TlsPolicy& tls, Deadline deadline) override {
    auto link = std::make_unique<SystemLink>(tls);
    if (Status st = link->Prepare(); !st.ok()) return st.failure();
    const std::string& bind = ep.sa.ss_family == AF_INET6 ? bind6_ : bind4_;
    auto fd = ConnectTo(ep, Deadline::AfterSeconds(connect_timeout_).Min(deadline), bind);
    if (!fd.ok()) return fd.failure();
    link->Attach(std::move(fd).value());
    return std::unique_ptr<Link>(std::move(link));
  }

 private:
  long connect_timeout_;
  std::string bind4_, bind6_;
};

}  // namespace

std::unique_ptr<Resolver> SystemResolver(std::string inet_protocols) {
  return std::make_unique<SystemResolverImpl>(std::move(inet_protocols));
}

std::unique_ptr<Connector> SystemConnector(long connect_timeout, std::string bind_address, std::string bind_address6) {
  return std::make_unique<SystemConnectorImpl>(connect_timeout, std::move(bind_address), std::move(bind_address6));
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

  auto endpoints = resolver_.Addresses(server, hop.port);
  if (!endpoints.ok()) {
    log::Info(endpoints.failure().text());
    out.failure = Failure("4.4.3", endpoints.failure().text(), endpoints.failure().detail());
    return false;
  }
  out.port = hop.port;
  for (const Endpoint& ep : endpoints.value()) {
    if (deadline.Expired()) break;
    auto link = connector_.Connect(ep, tls_policy, deadline);
    if (!link.ok()) {
      const Failure& f = link.failure();
      log::Info(f.text() + (f.detail().empty() ? "" : ": " + f.detail()));
      out.failure = f;
      out.relay = "none";
      continue;
    }
    Transport& conn = link.value()->transport();
    SessionPolicy policy = s_.session;
    policy.tls_level = level;
    policy.wrappermode = decision.value().implicit_tls;
    policy.credentials = creds ? &*creds : nullptr;
    policy.dry_run = dry_run;
    policy.trace = trace;
    if (policy.credentials) {
      policy.sasl_factory = MakeSaslFactory(*policy.credentials, ep.host, ep.port, s_.oauth_refresh_window,
                                            MakeCurlPost(s_.tls.ca_file, s_.tls.ca_path, 30));
    }
    Session session(conn, ep.HostAddr(), ep.port, policy);
    AttemptResult r = session.Run(env, message, deadline);
    out.relay = ep.Name();
    if (conn.tls()) {
      out.tls = *conn.tls();
      // Only a session whose handshake this policy accepted is reused.
      if (!TlsVerifies(level) || conn.tls()->verified) link.value()->SaveTlsSession();
    }
    out.attempt = r;
    if (r.delivered) {
      out.delivered = true;
      out.failure.reset();
      out.reply = r.final_reply;
      return true;
    }
    out.failure = r.failure;
    if (out.failure) {
      log::Info(out.failure->text() + (out.failure->detail().empty() ? "" : " (" + out.failure->detail() + ")"));
    }
    if (!r.try_next) return true;
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
