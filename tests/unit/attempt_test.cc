// DeliveryAttempt with a fake resolver and connector: failover order,
// per-candidate verdicts, the deadline across candidates, TLS session
// saving, and the TLS policy each MX host gets. No root, no network.
#include <arpa/inet.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "delivery/attempt.h"
#include "delivery/direct.h"
#include "fakes/fake_transport.h"

using namespace authrelay;
using authrelay::testing::FakeTransport;
using authrelay::testing::StringSource;

namespace {

Endpoint Ep(const std::string& host, const std::string& addr, std::uint16_t port) {
  Endpoint e;
  e.host = host;
  e.address = addr;
  e.port = port;
  auto* sin = reinterpret_cast<sockaddr_in*>(&e.sa);
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, addr.c_str(), &sin->sin_addr);
  e.sa_len = sizeof(sockaddr_in);
  return e;
}

struct FakeResolver final : Resolver {
  std::map<std::string, std::vector<MxHost>> mx;        // missing: the domain itself
  std::map<std::string, std::vector<std::string>> a;    // host -> addresses
  std::vector<std::string> asked;
  Result<std::vector<MxHost>> LookupMx(const std::string& domain) override {
    asked.push_back("MX " + domain);
    auto it = mx.find(domain);
    if (it == mx.end()) return std::vector<MxHost>{{0, domain}};
    return it->second;
  }
  Result<std::vector<Endpoint>> Addresses(const std::string& host, std::uint16_t port) override {
    asked.push_back("A " + host);
    auto it = a.find(host);
    if (it == a.end()) return Failure("4.4.3", "Host or domain name not found. Name service error for name=" + host);
    std::vector<Endpoint> out;
    for (const auto& addr : it->second) out.push_back(Ep(host, addr, port));
    return out;
  }
};

// What the "server" at one address does.
struct Server {
  std::vector<std::string> replies;  // empty: the connection is refused
  std::vector<std::string> then;     // the next connection's script, if any
  TlsFailure tls = TlsFailure::kNone;
  bool verified = true;
  std::chrono::milliseconds connect_delay{0};
  int count = 0;
};

struct FakeLink final : Link {
  FakeTransport t;
  int* saves;
  explicit FakeLink(int* s) : saves(s) {}
  Transport& transport() override { return t; }
  void SaveTlsSession() override { ++*saves; }
  bool TlsHandshakeFailed() const override { return t.tls_result == TlsFailure::kHandshake && t.tls_tried; }
};

struct ConnectCall {
  std::string address;
  TlsPolicy policy;
  Deadline deadline;
};

struct FakeConnector final : Connector {
  std::map<std::string, Server> servers;  // by address
  std::vector<ConnectCall> connects;
  int saves = 0;
  Result<std::unique_ptr<Link>> Connect(const Endpoint& ep, const TlsPolicy& tls, Deadline deadline,
                                        const ProxyConfig*) override {
    connects.push_back({ep.address, tls, deadline});
    Server& s = servers[ep.address];
    if (!s.then.empty() && ++s.count > 1) {
      s.replies = s.then;
      s.tls = TlsFailure::kNone;
    }
    if (s.connect_delay.count()) std::this_thread::sleep_for(s.connect_delay);
    if (s.replies.empty()) return Failure("4.4.1", "connect to " + ep.Name() + ": Connection refused");
    auto link = std::make_unique<FakeLink>(&saves);
    for (const auto& r : s.replies) link->t.replies.push_back(r);
    link->t.tls_result = s.tls;
    link->t.tls_verified = s.verified;
    return std::unique_ptr<Link>(std::move(link));
  }
  std::vector<std::string> Order() const {
    std::vector<std::string> out;
    for (const auto& c : connects) out.push_back(c.address);
    return out;
  }
};

const std::vector<std::string> kDelivers = {"220 mx", "250 mx", "250 ok", "250 ok", "354 go", "250 2.0.0 queued",
                                            "221 bye"};
const std::vector<std::string> kTlsDelivers = {"220 mx",   "250-mx", "250 STARTTLS", "220 go",          "250 mx",
                                               "250 ok",   "250 ok", "354 go",       "250 2.0.0 queued", "221 bye"};

struct Fixture {
  FakeResolver dns;
  FakeConnector net;
  Settings s;
  std::optional<std::string> policy_entry;
  std::optional<long> age;
  Envelope env{"sender@example.org", {"rcpt@example.net"}, std::nullopt, {}};
  Fixture() {
    auto cf = MainCf::Parse("smtp_helo_name = relay.example\nauthrelay_tls_session_cache =\n");
    BOOST_REQUIRE(cf.ok());
    auto loaded = LoadSettings(cf.value());
    BOOST_REQUIRE(loaded.ok());
    s = std::move(loaded).value();
    s.tls.session_cache_file.clear();
  }
  AttemptOutcome Run(const std::string& nexthop, Deadline deadline = Deadline::AfterSeconds(10)) {
    DeliveryAttempt attempt(s, dns, net, nullptr, [this](const NextHop&) -> Result<std::optional<std::string>> {
      return policy_entry;
    });
    attempt.SetMessageAge([this] { return age; });
    StringSource msg("Subject: x\n\nbody\n");
    return attempt.Run(env, nexthop, msg, deadline);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(delivery_attempt, Fixture)

BOOST_AUTO_TEST_CASE(failover_order_mx_then_addresses) {
  dns.mx["example.net"] = {{10, "mx1.example.net"}, {20, "mx2.example.net"}};
  dns.a["mx1.example.net"] = {"192.0.2.1", "192.0.2.2"};
  dns.a["mx2.example.net"] = {"192.0.2.3"};
  net.servers["192.0.2.2"].replies = {"421 4.3.2 busy"};  // 192.0.2.1 refuses the connection
  net.servers["192.0.2.3"].replies = kDelivers;
  AttemptOutcome out = Run("example.net");
  BOOST_TEST(out.delivered);
  std::vector<std::string> order = {"192.0.2.1", "192.0.2.2", "192.0.2.3"};
  BOOST_TEST(net.Order() == order, boost::test_tools::per_element());
  BOOST_TEST(out.relay == "mx2.example.net[192.0.2.3]:25");
  BOOST_TEST_MESSAGE("failover: connects " << net.connects.size() << ", relay " << out.relay);
}

BOOST_AUTO_TEST_CASE(next_hop_list_in_order) {
  dns.a["a.example"] = {"192.0.2.1"};
  dns.a["b.example"] = {"192.0.2.9"};
  net.servers["192.0.2.9"].replies = kDelivers;
  AttemptOutcome out = Run("[a.example]:587, [b.example]:587");
  BOOST_TEST(out.delivered);
  std::vector<std::string> order = {"192.0.2.1", "192.0.2.9"};
  BOOST_TEST(net.Order() == order, boost::test_tools::per_element());
  std::vector<std::string> asked = {"A a.example", "A b.example"};  // bracketed: no MX
  BOOST_TEST(dns.asked == asked, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_final_verdict_stops_failover) {
  dns.mx["example.net"] = {{10, "mx1.example.net"}, {20, "mx2.example.net"}};
  dns.a["mx1.example.net"] = {"192.0.2.1"};
  dns.a["mx2.example.net"] = {"192.0.2.3"};
  net.servers["192.0.2.1"].replies = {"220 mx", "250 mx", "250 ok", "550 5.1.1 no such user", "221 bye"};
  net.servers["192.0.2.3"].replies = kDelivers;
  AttemptOutcome out = Run("example.net");
  BOOST_TEST(!out.delivered);
  BOOST_REQUIRE(out.failure);
  BOOST_TEST(out.failure->dsn() == "5.1.1");
  BOOST_TEST(net.connects.size() == 1u);  // after MAIL: never another server
}

BOOST_AUTO_TEST_CASE(every_candidate_fails_the_last_verdict_counts) {
  dns.a["a.example"] = {"192.0.2.1", "192.0.2.2"};
  net.servers["192.0.2.2"].replies = {"220 mx", "451 4.3.0 EHLO broken"};
  AttemptOutcome out = Run("[a.example]");
  BOOST_TEST(!out.delivered);
  BOOST_REQUIRE(out.failure);
  BOOST_TEST(out.failure->dsn().substr(0, 1) == "4");
  BOOST_TEST(net.connects.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_421_to_starttls_moves_on_to_the_next_server) {
  dns.a["a.example"] = {"192.0.2.1"};
  dns.a["b.example"] = {"192.0.2.2"};
  net.servers["192.0.2.1"].replies = {"220 mx", "250-mx", "250 STARTTLS", "421 4.3.2 shutting down"};
  net.servers["192.0.2.2"].replies = kDelivers;
  AttemptOutcome out = Run("[a.example], [b.example]");  // level may: no credentials, nothing configured
  BOOST_TEST(out.delivered);
  BOOST_TEST(out.relay == "b.example[192.0.2.2]:25");
}

BOOST_AUTO_TEST_CASE(unknown_host_then_next) {
  dns.mx["example.net"] = {{10, "gone.example.net"}, {20, "mx2.example.net"}};
  dns.a["mx2.example.net"] = {"192.0.2.3"};
  net.servers["192.0.2.3"].replies = kDelivers;
  BOOST_TEST(Run("example.net").delivered);
}

BOOST_AUTO_TEST_CASE(deadline_across_candidates) {
  dns.a["a.example"] = {"192.0.2.1", "192.0.2.2"};
  net.servers["192.0.2.1"].connect_delay = std::chrono::milliseconds(150);  // then refused
  net.servers["192.0.2.2"].replies = kDelivers;
  Deadline deadline = Deadline::After(std::chrono::milliseconds(100));
  auto start = std::chrono::steady_clock::now();
  AttemptOutcome out = Run("[a.example]", deadline);
  auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(!out.delivered);
  BOOST_TEST(net.connects.size() == 1u);  // the second address is never tried after the deadline
  for (const auto& c : net.connects) BOOST_TEST((c.deadline.at() <= deadline.at()));
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 1000);
  BOOST_REQUIRE(out.failure);
  BOOST_TEST(out.failure->dsn().substr(0, 1) == "4");
}

BOOST_AUTO_TEST_CASE(deadline_already_spent_defers_with_time_limit) {
  dns.a["a.example"] = {"192.0.2.1"};
  net.servers["192.0.2.1"].replies = kDelivers;
  AttemptOutcome out = Run("[a.example]", Deadline::After(std::chrono::milliseconds(0)));
  BOOST_TEST(net.connects.empty());
  BOOST_REQUIRE(out.failure);
  BOOST_TEST(out.failure->dsn() == "4.4.2");
}

BOOST_AUTO_TEST_CASE(session_saved_only_when_the_policy_accepted_the_handshake) {
  dns.a["a.example"] = {"192.0.2.1"};
  policy_entry = "verify";
  net.servers["192.0.2.1"].replies = kTlsDelivers;
  BOOST_TEST(Run("[a.example]").delivered);
  BOOST_TEST(net.saves == 1);

  // Not verified at a verifying level: refused, nothing saved.
  net.connects.clear();
  net.saves = 0;
  net.servers["192.0.2.1"].tls = TlsFailure::kNotVerified;
  net.servers["192.0.2.1"].verified = false;
  BOOST_TEST(!Run("[a.example]").delivered);
  BOOST_TEST(net.saves == 0);

  // encrypt does not verify: an unverified session is what it accepted.
  net.saves = 0;
  policy_entry = "encrypt";
  net.servers["192.0.2.1"].tls = TlsFailure::kNone;
  net.servers["192.0.2.1"].verified = false;
  BOOST_TEST(Run("[a.example]").delivered);
  BOOST_TEST(net.saves == 1);
}

BOOST_AUTO_TEST_CASE(may_retries_in_plaintext_only_for_old_mail_without_credentials) {
  dns.a["a.example"] = {"192.0.2.1"};
  auto script = [&] {
    net.connects.clear();
    Server& srv = net.servers["192.0.2.1"];
    srv = Server{};
    srv.replies = {"220 mx", "250-mx", "250 STARTTLS", "220 go"};  // then the handshake fails
    srv.tls = TlsFailure::kHandshake;
    srv.then = kDelivers;  // the plaintext retry
  };
  // Fresh mail: no downgrade, deferred.
  script();
  age = 10;
  AttemptOutcome fresh = Run("[a.example]");
  BOOST_TEST(!fresh.delivered);
  BOOST_TEST(net.connects.size() == 1u);
  // Age unknown: no downgrade.
  script();
  age.reset();
  BOOST_TEST(!Run("[a.example]").delivered);
  BOOST_TEST(net.connects.size() == 1u);
  // Older than minimal_backoff_time (300s): the same server again, TLS off.
  script();
  age = 301;
  AttemptOutcome old = Run("[a.example]");
  BOOST_TEST(old.delivered);
  BOOST_REQUIRE(net.connects.size() == 2u);
  BOOST_TEST(net.connects[1].address == "192.0.2.1");
  BOOST_TEST(TlsLevelName(net.connects[1].policy.level) == std::string("none"));
  // Never at a level above may.
  script();
  policy_entry = "encrypt";
  BOOST_TEST(!Run("[a.example]").delivered);
  BOOST_TEST(net.connects.size() == 1u);
}

BOOST_AUTO_TEST_CASE(policy_map_hit_keeps_the_mx_host) {
  // A policy entry for the domain; the certificate must name the MX host
  // (verify's default match is "hostname"), SNI carries the MX host, and
  // each MX host has its own session-cache key.
  dns.mx["example.net"] = {{10, "mx1.example.net"}, {20, "mx2.example.net"}};
  dns.a["mx1.example.net"] = {"192.0.2.1"};
  dns.a["mx2.example.net"] = {"192.0.2.2"};
  net.servers["192.0.2.1"].replies = {"421 4.3.2 busy"};
  net.servers["192.0.2.2"].replies = kTlsDelivers;
  policy_entry = "verify";
  BOOST_TEST(Run("example.net").delivered);
  BOOST_REQUIRE(net.connects.size() == 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const TlsPolicy& p = net.connects[i].policy;
    std::string mx = i == 0 ? "mx1.example.net" : "mx2.example.net";
    BOOST_TEST(TlsLevelName(p.level) == std::string("verify"));
    std::vector<std::string> names = {mx};
    BOOST_TEST(p.match_names == names, boost::test_tools::per_element());
    BOOST_TEST(p.server_name == mx);
    BOOST_TEST(p.session_peer == "example.net|" + mx + ":25");
    BOOST_TEST_MESSAGE("policy-map hit, MX " << mx << ": match " << p.match_names.at(0) << ", SNI " << p.server_name
                                             << ", cache peer " << p.session_peer);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(message_age)

BOOST_AUTO_TEST_CASE(from_postqueue_json) {
  // The shape postqueue -j prints: one object per line.
  std::string out =
      "{\"queue_name\": \"deferred\", \"queue_id\": \"3F1A2B\", \"arrival_time\": 1000, \"message_size\": 5}\n"
      "{\"queue_name\": \"active\", \"queue_id\": \"923D5A725A2\", \"arrival_time\": 1700000000, \"sender\": \"x\"}\n";
  BOOST_TEST(MessageAgeFromPostqueue(out, "923D5A725A2", 1700000400).value_or(-1) == 400);
  BOOST_TEST(MessageAgeFromPostqueue(out, "3F1A2B", 1300).value_or(-1) == 300);
  BOOST_TEST(!MessageAgeFromPostqueue(out, "NOPE", 1300).has_value());
  BOOST_TEST(!MessageAgeFromPostqueue("", "3F1A2B", 1300).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(system_connector)

// A CA setting that names nothing is a configuration problem found before
// any connection, named with its fix (the recipe's Red Hat path on Debian).
BOOST_AUTO_TEST_CASE(missing_ca_path_is_a_configuration_problem) {
  TlsPolicy p;
  p.level = TlsLevel::kSecure;
  p.match_names = {"smtp.example.com"};
  p.ca_path = "/nonexistent/pki/tls/certs/ca-bundle.crt";
  auto connector = SystemConnector(5, "", "");
  auto link = connector->Connect(Ep("smtp.example.com", "127.0.0.1", 1), p,
                                 Deadline::After(std::chrono::milliseconds(300)), nullptr);
  BOOST_REQUIRE(!link.ok());
  BOOST_TEST(link.failure().dsn() == "4.7.5");
  BOOST_TEST(link.failure().text() == "client TLS configuration problem");
  BOOST_TEST(link.failure().detail().find("smtp_tls_CApath = /nonexistent/pki/tls/certs/ca-bundle.crt does not exist") !=
             std::string::npos, link.failure().detail());
  BOOST_TEST_MESSAGE("missing CApath: " << link.failure().text() << ": " << link.failure().detail());
  p.ca_path.clear();
  p.ca_file = "/nonexistent/ca.pem";
  link = connector->Connect(Ep("smtp.example.com", "127.0.0.1", 1), p, Deadline::After(std::chrono::milliseconds(300)),
                            nullptr);
  BOOST_REQUIRE(!link.ok());
  BOOST_TEST(link.failure().text() == "client TLS configuration problem");
  BOOST_TEST(link.failure().detail().find("smtp_tls_CAfile = /nonexistent/ca.pem") != std::string::npos,
             link.failure().detail());
}

BOOST_AUTO_TEST_SUITE_END()
