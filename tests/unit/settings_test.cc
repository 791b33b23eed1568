#include <boost/test/unit_test.hpp>

#include "config/settings.h"

using namespace authrelay;

namespace {
Settings Load(const std::string& text) {
  auto cf = MainCf::Parse(text);
  BOOST_REQUIRE(cf.ok());
  auto s = LoadSettings(cf.value());
  if (!s.ok()) BOOST_FAIL("settings: " + s.failure().detail());
  return std::move(s).value();
}
NextHop Hop(const std::string& h) {
  auto r = ParseNextHops(h);
  BOOST_REQUIRE(r.ok());
  return r.value()[0];
}
}  // namespace

BOOST_AUTO_TEST_SUITE(settings)

BOOST_AUTO_TEST_CASE(default_level_depends_on_credentials) {
  Settings s = Load("");
  BOOST_TEST((EffectiveTlsLevel(s, true, Hop("[smtp.example.com]:587"), nullptr) == TlsLevel::kSecure));
  BOOST_TEST((EffectiveTlsLevel(s, false, Hop("[smtp.example.com]:587"), nullptr) == TlsLevel::kMay));
}

BOOST_AUTO_TEST_CASE(configured_level_always_wins) {
  Settings s = Load("smtp_tls_security_level = encrypt\n");
  BOOST_TEST((EffectiveTlsLevel(s, true, Hop("[x]:587"), nullptr) == TlsLevel::kEncrypt));
  Settings n = Load("smtp_tls_security_level = none\n");
  BOOST_TEST((EffectiveTlsLevel(n, false, Hop("[x]:25"), nullptr) == TlsLevel::kNone));
}

BOOST_AUTO_TEST_CASE(legacy_switches) {
  // The recipe's smtp_use_tls = yes: may without credentials, secure with.
  Settings s = Load("smtp_use_tls = yes\n");
  BOOST_TEST((EffectiveTlsLevel(s, false, Hop("[x]:587"), nullptr) == TlsLevel::kMay));
  BOOST_TEST((EffectiveTlsLevel(s, true, Hop("[x]:587"), nullptr) == TlsLevel::kSecure));
  Settings e = Load("smtp_enforce_tls = yes\n");
  BOOST_TEST((EffectiveTlsLevel(e, false, Hop("[x]:587"), nullptr) == TlsLevel::kVerify));
  Settings ep = Load("smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no\n");
  BOOST_TEST((EffectiveTlsLevel(ep, false, Hop("[x]:587"), nullptr) == TlsLevel::kEncrypt));
}

BOOST_AUTO_TEST_CASE(port_465_is_implicit_tls_at_least_encrypt) {
  Settings s = Load("smtp_tls_security_level = may\n");
  BOOST_TEST(ImplicitTls(s, Hop("[x]:465")));
  BOOST_TEST(ImplicitTls(s, Hop("[x]:smtps")));
  BOOST_TEST(!ImplicitTls(s, Hop("[x]:587")));
  BOOST_TEST((EffectiveTlsLevel(s, false, Hop("[x]:465"), nullptr) == TlsLevel::kEncrypt));
  BOOST_TEST(ImplicitTls(Load("smtp_tls_wrappermode = yes\n"), Hop("[x]:10465")));
}

BOOST_AUTO_TEST_CASE(match_names_and_sni) {
  Settings s = Load("");
  TlsPolicy secure = MakeTlsPolicy(s, TlsLevel::kSecure, Hop("[smtp.gmail.com]:587"));
  std::vector<std::string> want = {"smtp.gmail.com", ".smtp.gmail.com"};
  BOOST_TEST(secure.match_names == want, boost::test_tools::per_element());
  BOOST_TEST(secure.server_name == "smtp.gmail.com");
  TlsPolicy ip = MakeTlsPolicy(s, TlsLevel::kVerify, Hop("[192.0.2.7]:25"));
  BOOST_TEST(ip.server_name.empty());  // no SNI for an address
  Settings lit = Load("smtp_tls_verify_cert_match = hostname, mx.example\n");
  TlsPolicy v = MakeTlsPolicy(lit, TlsLevel::kVerify, Hop("[a.example]"));
  std::vector<std::string> want2 = {"a.example", "mx.example"};
  BOOST_TEST(v.match_names == want2, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(protocol_floor) {
  Settings s = Load("");
  BOOST_TEST(MakeTlsPolicy(s, TlsLevel::kSecure, Hop("[x]")).protocols.empty());  // TLS 1.2 floor in TlsClient
  int lo = 0, hi = 0;
  BOOST_REQUIRE(ProtocolRange("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", &lo, &hi));
  BOOST_TEST(lo == TLS1_2_VERSION);
  BOOST_TEST(hi == TLS1_3_VERSION);
  BOOST_REQUIRE(ProtocolRange(">=TLSv1.3", &lo, &hi));
  BOOST_TEST(lo == TLS1_3_VERSION);
  BOOST_TEST(!ProtocolRange("TLSv9", &lo, &hi));
}

BOOST_AUTO_TEST_CASE(fingerprint_digest_follows_compatibility_level) {
  BOOST_TEST(Load("").fingerprint_digest == "md5");
  BOOST_TEST(Load("compatibility_level = 3.6\n").fingerprint_digest == "sha256");
  BOOST_TEST(Load("compatibility_level = 2\n").fingerprint_digest == "md5");
  BOOST_TEST(Load("smtp_tls_fingerprint_digest = sha1\n").fingerprint_digest == "sha1");
}

BOOST_AUTO_TEST_CASE(bad_values_defer) {
  auto cf = MainCf::Parse("smtp_tls_security_level = paranoid\n");
  BOOST_REQUIRE(cf.ok());
  auto s = LoadSettings(cf.value());
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.failure().dsn() == "4.3.5");
  auto t = MainCf::Parse("smtp_connect_timeout = soon\n");
  BOOST_TEST(!LoadSettings(t.value()).ok());
}

BOOST_AUTO_TEST_CASE(own_deadline_inside_time_limit) {
  BOOST_TEST(Load("").deadline_seconds == 800);  // command_time_limit 1000s
  BOOST_TEST(Load("authrelay_time_limit = 60s\n").deadline_seconds == 48);
  BOOST_TEST(Load("authrelay_time_limit = 10s\n").deadline_seconds == 5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls_policy_maps)

BOOST_AUTO_TEST_CASE(keys_as_smtp8_asks_them) {
  std::vector<std::string> bare = {"mail.example.com", ".example.com", ".com"};
  BOOST_TEST(TlsPolicyKeys(Hop("mail.example.com")) == bare, boost::test_tools::per_element());
  std::vector<std::string> bracketed = {"[smtp.gmail.com]:587"};
  BOOST_TEST(TlsPolicyKeys(Hop("[smtp.gmail.com]:587")) == bracketed, boost::test_tools::per_element());
  std::vector<std::string> port = {"example.com:587"};
  BOOST_TEST(TlsPolicyKeys(Hop("example.com:587")) == port, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(entries) {
  Settings s = Load("");
  TlsLevel level = TlsLevel::kNone;
  TlsPolicy p;
  BOOST_REQUIRE(ApplyTlsPolicyEntry("secure match=a.example:nexthop { servername = sni.example } protocols=>=TLSv1.3",
                                    Hop("[mx.example]:587"), s, &level, &p).ok());
  BOOST_TEST((level == TlsLevel::kSecure));
  std::vector<std::string> names = {"a.example", "mx.example"};
  BOOST_TEST(p.match_names == names, boost::test_tools::per_element());
  BOOST_TEST(p.server_name == "sni.example");
  BOOST_TEST(p.protocols == ">=TLSv1.3");
  BOOST_REQUIRE(ApplyTlsPolicyEntry("fingerprint match=AA:BB|CC:DD", Hop("[x]"), s, &level, &p).ok());
  std::vector<std::string> fps = {"AA:BB", "CC:DD"};
  BOOST_TEST(p.fingerprints == fps, boost::test_tools::per_element());
  for (const char* bad : {"paranoid", "secure bogus=1", "secure match", "encrypt protocols=TLSv9", "", "may ciphers=ultra"}) {
    auto st = ApplyTlsPolicyEntry(bad, Hop("[x]"), s, &level, &p);
    BOOST_TEST_INFO(bad);
    BOOST_REQUIRE(!st.ok());
    BOOST_TEST(st.failure().dsn() == "4.7.5");
    BOOST_TEST(st.failure().text() == "client TLS configuration problem");
  }
}

BOOST_AUTO_TEST_SUITE_END()
