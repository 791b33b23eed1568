// Each TLS level, and each smtp_tls_policy_maps attribute, has a case that
// fails if the setting were ignored.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <tuple>

#include "config/settings.h"
#include "tls/policy.h"
#include "protocol/scripted_server.h"
#include "protocol/test_client.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

// STARTTLS with the given certificate, then a full plain delivery.
ScriptedServer& TlsDelivery(ScriptedServer& s, const std::string& cert, int max_version = 0) {
  return UpToTls(s, cert, max_version)
      .Expect("EHLO").Send("250 mx.test").Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok")
      .Expect("DATA").Send("354 go").ReadData().Send("250 queued").Expect("QUIT").Send("221 bye");
}

AttemptResult RunWith(ScriptedServer& srv, const TlsPolicy& tls) {
  srv.Start();
  Client c;
  c.tls = tls;
  AttemptResult r = c.Run(srv.port(), /*with_creds=*/false);
  srv.Finish();
  return r;
}

TlsPolicy Level(TlsLevel l) {
  TlsPolicy p;
  p.level = l;
  p.ca_file = Certs() + "/ca.pem";
  p.match_names = {"mx.test"};
  p.server_name = "mx.test";
  return p;
}

// A fingerprint computed exactly as postconf(5) shows it, with the openssl
// command line (the oracle), not with the code under test's own calls:
//   certificate: openssl x509 -outform DER | openssl dgst -sha256 -c
//   public key:  openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -c
std::string Fingerprint(const std::string& pem_path, bool pubkey, const std::string& digest = "sha256") {
  std::string cmd = pubkey ? "openssl x509 -in '" + pem_path + "' -pubkey -noout | openssl pkey -pubin -outform DER"
                           : "openssl x509 -in '" + pem_path + "' -outform DER";
  cmd += " | openssl dgst -" + digest + " -c";
  FILE* f = popen(cmd.c_str(), "r");
  BOOST_REQUIRE(f);
  char buf[512] = "";
  std::string out = std::fgets(buf, sizeof buf, f) ? buf : "";
  pclose(f);
  auto eq = out.find("= ");
  BOOST_REQUIRE(eq != std::string::npos);
  out = out.substr(eq + 2);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;  // lower case, colon-separated: case must not matter
}

NextHop Hop(const std::string& s) {
  auto r = ParseNextHops(s);
  BOOST_REQUIRE(r.ok());
  return r.value()[0];
}

Settings DefaultSettings() {
  // The session cache off: a test must never write the system's
  // /var/lib/authrelay (as root it would leave a file deliveries refuse).
  auto cf = MainCf::Parse("compatibility_level = 3.6\nsmtp_tls_CAfile = " + Certs() +
                          "/ca.pem\nauthrelay_tls_session_cache =\n");
  BOOST_REQUIRE(cf.ok());
  auto s = LoadSettings(cf.value());
  BOOST_REQUIRE(s.ok());
  return std::move(s).value();
}

// A policy as smtp_tls_policy_maps would give it for [mx.test]:25.
TlsPolicy FromPolicyMap(const std::string& entry) {
  Settings s = DefaultSettings();
  NextHop hop = Hop("[mx.test]:25");
  auto d = ResolveTlsPolicy(s.tls, {hop.verbatim, hop.host, hop.host, hop.port}, false, entry);
  BOOST_REQUIRE(d.ok());
  return d.value().policy;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_levels)

BOOST_AUTO_TEST_CASE(level_none_never_starts_tls) {
  ScriptedServer srv;
  srv.Send("220 mx").Expect("EHLO").Send("250-mx").Send("250 STARTTLS").Expect("MAIL").Send("250 ok").Expect("RCPT")
      .Send("250 ok").Expect("DATA").Send("354 go").ReadData().Send("250 ok");
  AttemptResult r = RunWith(srv, Level(TlsLevel::kNone));
  BOOST_TEST(r.delivered);
  for (const auto& l : srv.received()) BOOST_TEST(l != "STARTTLS");
}

BOOST_AUTO_TEST_CASE(level_may_uses_tls_without_checking_the_certificate) {
  ScriptedServer srv;
  TlsDelivery(srv, "selfsigned");
  AttemptResult r = RunWith(srv, Level(TlsLevel::kMay));
  BOOST_TEST(r.delivered);
  BOOST_TEST(srv.Finish() == "");
}

BOOST_AUTO_TEST_CASE(level_may_goes_on_in_plaintext_when_tls_is_not_offered) {
  ScriptedServer srv;
  srv.Send("220 mx").Expect("EHLO").Send("250 mx").Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok")
      .Expect("DATA").Send("354 go").ReadData().Send("250 ok");
  BOOST_TEST(RunWith(srv, Level(TlsLevel::kMay)).delivered);
}

BOOST_AUTO_TEST_CASE(level_fingerprint_matches_certificate_or_public_key) {
  for (const char* digest : {"md5", "sha1", "sha256"}) {
    for (bool pubkey : {false, true}) {
      BOOST_TEST_CONTEXT(digest << (pubkey ? " public key" : " certificate")) {
        ScriptedServer srv;
        TlsDelivery(srv, "selfsigned");
        TlsPolicy p = Level(TlsLevel::kFingerprint);
        p.fingerprint_digest = digest;
        p.fingerprints = {Fingerprint(Certs() + "/selfsigned.pem", pubkey, digest)};
        BOOST_TEST(RunWith(srv, p).delivered);
      }
    }
  }
  ScriptedServer srv;
  TlsDelivery(srv, "selfsigned");
  TlsPolicy p = Level(TlsLevel::kFingerprint);
  p.fingerprints = {Fingerprint(Certs() + "/server.pem", false)};  // another certificate's
  AttemptResult r = RunWith(srv, p);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.5");
}

BOOST_AUTO_TEST_CASE(level_verify_checks_chain_and_name) {
  ScriptedServer good;
  TlsDelivery(good, "server");
  BOOST_TEST(RunWith(good, Level(TlsLevel::kVerify)).delivered);
  ScriptedServer wrong;
  TlsDelivery(wrong, "wrong");
  AttemptResult r = RunWith(wrong, Level(TlsLevel::kVerify));
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->text() == "Server certificate not verified");
}

BOOST_AUTO_TEST_CASE(level_secure_dot_nexthop_accepts_a_subdomain_certificate) {
  // The certificate names mx.test; the next hop is "test": dot-nexthop
  // (.test) must accept it, plain nexthop alone must not.
  Settings s = DefaultSettings();
  NextHop hop = Hop("[test]");
  auto d = ResolveTlsPolicy(s.tls, {hop.verbatim, hop.host, hop.host, hop.port}, true, std::nullopt);
  BOOST_REQUIRE(d.ok());
  TlsPolicy p = d.value().policy;
  ScriptedServer sub;
  TlsDelivery(sub, "server");
  BOOST_TEST(RunWith(sub, p).delivered);
  p.match_names = {"test"};
  ScriptedServer exact;
  TlsDelivery(exact, "server");
  BOOST_TEST(!RunWith(exact, p).delivered);
}

BOOST_AUTO_TEST_CASE(policy_match_replaces_the_names) {
  // wrong.pem names other.test: refused by default, accepted with match=.
  ScriptedServer without;
  TlsDelivery(without, "wrong");
  BOOST_TEST(!RunWith(without, FromPolicyMap("secure")).delivered);
  ScriptedServer with;
  TlsDelivery(with, "wrong");
  BOOST_TEST(RunWith(with, FromPolicyMap("secure match=other.test:nexthop")).delivered);
}

BOOST_AUTO_TEST_CASE(policy_fingerprint_match_with_pipe_separator) {
  ScriptedServer srv;
  TlsDelivery(srv, "selfsigned");
  std::string entry = "fingerprint match=00:11|" + Fingerprint(Certs() + "/selfsigned.pem", false);
  BOOST_TEST(RunWith(srv, FromPolicyMap(entry)).delivered);
}

BOOST_AUTO_TEST_CASE(policy_protocols_are_enforced) {
  // The server stops at TLS 1.2; protocols=>=TLSv1.3 must refuse it.
  ScriptedServer ok;
  TlsDelivery(ok, "server", TLS1_2_VERSION);
  BOOST_TEST(RunWith(ok, FromPolicyMap("secure")).delivered);
  ScriptedServer strict;
  TlsDelivery(strict, "server", TLS1_2_VERSION);
  AttemptResult r = RunWith(strict, FromPolicyMap("secure protocols=>=TLSv1.3"));
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.5");
  BOOST_TEST(r.failure->text() == "Cannot start TLS: handshake failure");
}

BOOST_AUTO_TEST_CASE(tls_1_1_only_where_the_protocol_list_admits_it) {
  // A server that stops at TLS 1.1. A list admitting TLS 1.1 must get a
  // handshake through (smtp(8) does); with no list the TLS 1.2 floor holds.
  ScriptedServer old_ok;
  TlsDelivery(old_ok, "server", TLS1_1_VERSION);
  BOOST_TEST(RunWith(old_ok, FromPolicyMap("encrypt protocols=!SSLv2:!SSLv3")).delivered);
  ScriptedServer gap;
  TlsDelivery(gap, "server", TLS1_1_VERSION);
  BOOST_TEST(RunWith(gap, FromPolicyMap("encrypt protocols=!TLSv1.2")).delivered);
  ScriptedServer floor;
  UpToTls(floor, "server", TLS1_1_VERSION);
  AttemptResult r = RunWith(floor, FromPolicyMap("encrypt"));
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->text() == "Cannot start TLS: handshake failure");
  // Where the certificate must match, smtp(8) keeps OpenSSL's security
  // level, whose digest minimum rules TLS 1.1 out even when listed.
  ScriptedServer verified;
  UpToTls(verified, "server", TLS1_1_VERSION);
  AttemptResult v = RunWith(verified, FromPolicyMap("secure protocols=!SSLv2:!SSLv3"));
  BOOST_REQUIRE(v.failure);
  BOOST_TEST(v.failure->text() == "Cannot start TLS: handshake failure");
}

BOOST_AUTO_TEST_CASE(policy_exclude_removes_ciphers) {
  // TLS 1.2 only, and every ECDHE suite excluded: the server's RSA key
  // still allows DHE/RSA suites, but excluding "HIGH" leaves nothing.
  ScriptedServer ok;
  TlsDelivery(ok, "server", TLS1_2_VERSION);
  BOOST_TEST(RunWith(ok, FromPolicyMap("encrypt ciphers=high")).delivered);
  ScriptedServer none;
  TlsDelivery(none, "server", TLS1_2_VERSION);
  AttemptResult r = RunWith(none, FromPolicyMap("encrypt ciphers=high exclude=HIGH"));
  BOOST_TEST(!r.delivered);
}

BOOST_AUTO_TEST_CASE(policy_ciphers_grade_is_applied) {
  // Only NULL ciphers allowed: no TLS 1.2 server with real keys agrees.
  ScriptedServer srv;
  TlsDelivery(srv, "server", TLS1_2_VERSION);
  BOOST_TEST(!RunWith(srv, FromPolicyMap("encrypt ciphers=null")).delivered);
}

BOOST_AUTO_TEST_CASE(client_certificate_is_presented) {
  ScriptedServer srv;
  srv.RequireClientCertificate(Certs() + "/ca.pem");
  TlsDelivery(srv, "server");
  TlsPolicy p = Level(TlsLevel::kSecure);
  p.cert_file = Certs() + "/client.pem";
  p.key_file = Certs() + "/client.key";
  BOOST_TEST(RunWith(srv, p).delivered);
  BOOST_TEST(srv.client_subject().find("relay-client.test") != std::string::npos);
  ScriptedServer without;
  without.RequireClientCertificate(Certs() + "/ca.pem");
  TlsDelivery(without, "server");
  BOOST_TEST(!RunWith(without, Level(TlsLevel::kSecure)).delivered);
}

BOOST_AUTO_TEST_CASE(policy_servername_sets_sni) {
  ScriptedServer srv;
  TlsDelivery(srv, "server");
  BOOST_TEST(RunWith(srv, FromPolicyMap("secure servername=sni.example")).delivered);
  BOOST_TEST(srv.sni() == "sni.example");
  ScriptedServer dflt;
  TlsDelivery(dflt, "server");
  BOOST_TEST(RunWith(dflt, FromPolicyMap("secure")).delivered);
  BOOST_TEST(dflt.sni() == "mx.test");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls_address_nexthop)

// Under authrelay's implicit secure default (credentials, no level set) an
// address next hop is checked against the certificate's IP subjectAltName;
// a certificate without that address is refused with a line that says how
// to name the expected certificate.
TlsPolicy ImplicitSecureFor(const std::string& nexthop) {
  Settings s = DefaultSettings();
  NextHop hop = Hop(nexthop);
  auto d = ResolveTlsPolicy(s.tls, {hop.verbatim, hop.host, hop.host, hop.port}, /*have_credentials=*/true,
                            std::nullopt);
  BOOST_REQUIRE(d.ok());
  BOOST_REQUIRE(d.value().policy.level == TlsLevel::kSecure);
  return d.value().policy;
}

BOOST_AUTO_TEST_CASE(ip_san_accepted) {
  ScriptedServer srv;
  TlsDelivery(srv, "server");  // SAN DNS:mx.test, IP:127.0.0.1
  BOOST_TEST(RunWith(srv, ImplicitSecureFor("[127.0.0.1]:25")).delivered);
}

BOOST_AUTO_TEST_CASE(no_ip_san_refused_with_the_fix) {
  ScriptedServer srv;
  UpToTls(srv, "wrong").Expect("QUIT").Send("221 bye");
  srv.Start();
  Client c;
  c.tls = ImplicitSecureFor("[127.0.0.1]:25");
  AttemptResult r = c.Run(srv.port(), false);
  srv.Finish();
  BOOST_TEST(!r.delivered);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->text() == "Server certificate not verified");
  std::string log = ReadFile(GlobalSetup::LogPath());
  BOOST_TEST(log.find("must carry the IP address 127.0.0.1 as a subjectAltName") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls_protocol_lists)

// Protocol lists as smtp(8) (Postfix 3.6 and later) reads them: names are
// an inclusion list, "!name" excludes (and an exclusion inside the range
// ends it, as OpenSSL treats holes), tokens may be separated by colons as
// in a policy entry's protocols=.
BOOST_AUTO_TEST_CASE(inclusion_exclusion_and_colon_forms) {
  struct Case {
    const char* entry;
    int server_max;  // 0 = TLS 1.3
    bool delivered;
    const char* version;
  } cases[] = {
      {"encrypt protocols=TLSv1.3", 0, true, "TLSv1.3"},
      {"encrypt protocols=TLSv1.3", TLS1_2_VERSION, false, ""},
      {"encrypt {protocols = TLSv1.2, TLSv1.3}", TLS1_2_VERSION, true, "TLSv1.2"},
      // OpenSSL ends the range at the hole: TLS 1.0 and 1.1 only, refused by
      // either server. posttls-finger -p '!TLSv1.2' (Postfix's own TLS
      // client code) fails the same way against both.
      {"encrypt protocols=!TLSv1.2", 0, false, ""},
      {"encrypt protocols=!TLSv1.2", TLS1_2_VERSION, false, ""},
      {"encrypt protocols=!SSLv2:!SSLv3", TLS1_2_VERSION, true, "TLSv1.2"},
      {"encrypt protocols=>=TLSv1.2:<=TLSv1.2", 0, true, "TLSv1.2"},
  };
  for (const Case& k : cases) {
    BOOST_TEST_CONTEXT(k.entry << " against a server up to " << (k.server_max ? "TLSv1.2" : "TLSv1.3")) {
      Settings s = DefaultSettings();
      NextHop hop = Hop("[mx.test]:25");
      auto d = ResolveTlsPolicy(s.tls, {hop.verbatim, hop.host, hop.host, hop.port}, false, std::string(k.entry));
      BOOST_TEST(d.ok(), (d.ok() ? "" : d.failure().detail()));
      if (!d.ok()) continue;
      ScriptedServer srv;
      TlsDelivery(srv, "server", k.server_max);
      srv.Start();
      Client c;
      c.tls = d.value().policy;
      AttemptResult r = c.Run(srv.port(), false);
      srv.Finish();
      BOOST_TEST(r.delivered == k.delivered);
      if (k.delivered) BOOST_TEST(c.last_tls.protocol == k.version);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls_mixed_names)

// Toward an address the certificate must carry it (IP subjectAltName) AND
// one of the listed host names, as smtp(8) checks (OpenSSL checks both).
BOOST_AUTO_TEST_CASE(address_and_name) {
  for (auto [names, cert, ok] : {std::tuple{std::vector<std::string>{"127.0.0.1", "nomatch.test"}, "server", false},
                                 std::tuple{std::vector<std::string>{"192.0.2.9", "mx.test"}, "server", false},
                                 std::tuple{std::vector<std::string>{"127.0.0.1", "mx.test"}, "server", true},
                                 std::tuple{std::vector<std::string>{"127.0.0.1"}, "server", true},
                                 std::tuple{std::vector<std::string>{"127.0.0.1", ".127.0.0.1"}, "server", false}}) {
    ScriptedServer srv;
    if (ok) TlsDelivery(srv, cert);
    else UpToTls(srv, cert).Expect("QUIT").Send("221 bye");
    TlsPolicy p = Level(TlsLevel::kVerify);
    p.match_names = names;
    BOOST_TEST(RunWith(srv, p).delivered == ok);
  }
}

BOOST_AUTO_TEST_SUITE_END()
