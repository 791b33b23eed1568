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
#include "net/transport.h"
#include "smtp/nexthop.h"
#include "smtp/session.h"
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
};

class Connector {
 public:
  virtual ~Connector() = default;
  // Connects to ep; TLS (if the session starts it) runs with `tls`.
  // Failure 4.4.1 "connect to H[A]:port: reason".
  virtual Result<std::unique_ptr<Link>> Connect(const Endpoint& ep, const TlsPolicy& tls, Deadline deadline) = 0;
};

// The system's: libresolv and getaddrinfo (inet_protocols), and TCP with
// smtp_connect_timeout and smtp_bind_address(6).
std::unique_ptr<Resolver> SystemResolver(std::string inet_protocols);
std::unique_ptr<Connector> SystemConnector(long connect_timeout, std::string bind_address, std::string bind_address6);

// The age in seconds of queue_id's message, from "postqueue -j" output (one
// JSON object per line with "queue_id" and "arrival_time"); nullopt if the
// message is not listed.
std::optional<long> MessageAgeFromPostqueue(const std::string& json_lines, const std::string& queue_id, long now);

// What one run through the next-hop list ended with.
struct AttemptOutcome {
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

class DeliveryAttempt {
 public:
  // Credentials for a server host of a next hop (smtp(8) asks for both).
  using CredentialsLookup =
      std::function<Result<std::optional<Credentials>>(const NextHop& hop, const std::string& server_host)>;
  // The smtp_tls_policy_maps value for a next hop, if any.
  using PolicyLookup = std::function<Result<std::optional<std::string>>(const NextHop& hop)>;

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
};

}  // namespace authrelay
