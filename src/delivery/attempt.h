// One delivery attempt: the next-hop list, MX hosts, addresses, connections
// and sessions, with the failover, deadline and TLS-session-saving rules.
// DNS and connecting are behind interfaces (Resolver, Connector), so the
// rules are unit-tested without root, network or OpenSSL handshakes.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.h"
#include "core/deadline.h"
#include "core/result.h"
#include "credmap/credentials.h"
#include "net/connection.h"
#include "net/dns.h"
#include "net/proxy.h"
#include "share/share.h"
#include "core/transport.h"
#include "smtp/nexthop.h"
#include "smtp/session.h"
#include "delivery/sasl_factory.h"
#include "tls/policy.h"

namespace authrelay {

class Resolver {
 public:
  virtual ~Resolver() = default;
  // MX hosts by preference; never empty (no MX: the domain itself).
  virtual Result<std::vector<MxHost>> LookupMx(const std::string& domain) = 0;
  // Addresses of a host, in the order to try them.
  virtual Result<std::vector<Endpoint>> Addresses(const std::string& host, std::uint16_t port) = 0;
};

// One connected server: the byte stream, and the TLS session it may save.
class Link {
 public:
  virtual ~Link() = default;
  virtual Transport& transport() = 0;
  // Stores the server's newest TLS session for resumption.
  virtual void SaveTlsSession() = 0;
  // Whether the TLS handshake itself failed (not a certificate check).
  virtual bool TlsHandshakeFailed() const = 0;
  // Connection sharing: gives the delivered, authenticated session to a
  // holder (share::OfferSession). False when this link cannot be held; the
  // link is not used again either way.
  virtual bool Hold(const share::ShareSettings&, const std::string& /*name*/, const std::string& /*server*/,
                    const Capabilities&, const TlsInfo&, const log::Options&) {
    return false;
  }
};

// Connection sharing for deliveries (null: off, and for --probe).
struct SharingConfig {
  share::ShareSettings settings;
  log::Options log;  // where the holder logs
  // Do not look for held sessions: authrelay-reuse just did (and logged
  // what it found). A delivered session may still be offered to a holder.
  bool skip_held = false;
};

class Connector {
 public:
  virtual ~Connector() = default;
  // Connects to ep; TLS (if the session starts it) runs with `tls`.
  // Failure 4.4.1 "connect to H[A]:port: reason".
  // via: an egress proxy to connect through (ep is then ProxiedEndpoint:
  // the proxy resolves the name), or null for a direct connection.
  virtual Result<std::unique_ptr<Link>> Connect(const Endpoint& ep, const TlsPolicy& tls, Deadline deadline,
                                                const ProxyConfig* via) = 0;
};

// The system's: libresolv and getaddrinfo (inet_protocols).
std::unique_ptr<Resolver> SystemResolver(std::string inet_protocols);
// The system's connector (TCP with smtp_connect_timeout and
// smtp_bind_address(6), then TLS) is SystemConnector() in
// delivery/direct.h: only the authrelay program links it.

// The age in seconds of queue_id's message, from "postqueue -j" output (one
// JSON object per line with "queue_id" and "arrival_time"); nullopt if the
// message is not listed.
std::optional<long> MessageAgeFromPostqueue(const std::string& json_lines, const std::string& queue_id, long now);

// What one run through the next-hop list ended with: the session's own
// result, with where and how it connected filled in (relay, port, tls,
// level) -- one result type from session to report.
using AttemptOutcome = AttemptResult;

class DeliveryAttempt {
 public:
  // Credentials for a server host of a next hop (smtp(8) asks for both).
  using CredentialsLookup =
      std::function<Result<std::optional<Credentials>>(const NextHop& hop, const std::string& server_host)>;
  // The smtp_tls_policy_maps value for a next hop, if any.
  using PolicyLookup = std::function<Result<std::optional<std::string>>(const NextHop& hop)>;
  // The egress proxy for a server host of a next hop, if any.
  using ProxyLookup =
      std::function<Result<std::optional<ProxyConfig>>(const NextHop& hop, const std::string& server_host)>;

  DeliveryAttempt(const Settings& settings, Resolver& resolver, Connector& connector, CredentialsLookup credentials,
                  PolicyLookup policy)
      : s_(settings),
        resolver_(resolver),
        connector_(connector),
        credentials_(std::move(credentials)),
        policy_(std::move(policy)) {}

  // How long the message has been queued, in seconds (nullopt: unknown).
  // Asked only when a plaintext retry at "may" depends on it.
  void SetMessageAge(std::function<std::optional<long>()> age) { message_age_ = std::move(age); }
  void SetProxyLookup(ProxyLookup proxy) { proxy_ = std::move(proxy); }
  void SetSharing(const SharingConfig* sharing) { sharing_ = sharing; }
  // The SASL client for credentials on a direct connection (null: none, as
  // in unit tests without AUTH).
  using SaslFactoryMaker =
      std::function<SaslFactory(const Credentials&, const Endpoint&, const ProxyConfig*, Deadline)>;
  void SetSaslFactoryMaker(SaslFactoryMaker maker) { sasl_maker_ = std::move(maker); }
  // Held sessions only: where a direct connection would come next, the run
  // stops instead and needs_direct() says so. authrelay-reuse runs so, and
  // hands the delivery to authrelay when it must connect itself.
  void SetHeldOnly(bool held_only) { held_only_ = held_only; }
  bool needs_direct() const { return needs_direct_; }

  // Tries the next hops in order; for a bare domain its MX hosts by
  // preference; for each host its addresses. Moves on after a failure the
  // session marked try_next (before MAIL) or a connection/DNS/TLS-policy
  // failure; stops at the first delivery or final verdict, or at the deadline.
  AttemptOutcome Run(const Envelope& env, const std::string& nexthop, MessageSource& message, Deadline deadline,
                     bool dry_run = false, bool trace = false);

 private:
  // One server host; true when the attempt is over.
  bool TryServer(const NextHop& hop, const std::string& server, const Envelope& env, MessageSource& message,
                 Deadline deadline, bool dry_run, bool trace, AttemptOutcome& out);

  const Settings& s_;
  Resolver& resolver_;
  Connector& connector_;
  CredentialsLookup credentials_;
  PolicyLookup policy_;
  std::function<std::optional<long>()> message_age_;
  ProxyLookup proxy_;
  const SharingConfig* sharing_ = nullptr;
  SaslFactoryMaker sasl_maker_;
  bool held_only_ = false;
  bool needs_direct_ = false;
};

}  // namespace authrelay
