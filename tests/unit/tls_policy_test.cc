// ResolveTlsPolicy, table-driven: each row is main.cf text, a next hop, the
// server host connected to, whether credentials exist and the policy-map
// entry, with the level, match names, protocols, SNI and session-cache peer
// it must give (or the configuration problem it must report).
// Run with --log_level=message to print the table.
#include <boost/test/unit_test.hpp>
#include <optional>
#include <sstream>

#include "config/settings.h"
#include "tls/policy.h"

using namespace authrelay;

namespace {

struct Row {
  const char* name;
  const char* main_cf;
  const char* nexthop;
  const char* server;  // "" = the next hop's host
  bool creds;
  std::optional<std::string> entry;
  // expected
  const char* level;             // "" when an error is expected
  std::vector<std::string> names;  // match names, or fingerprints at level fingerprint
  const char* protocols;
  const char* sni;
  const char* peer;              // session_peer, "" = not checked
  const char* error = "";        // substring of the failure detail
};

Settings Load(const std::string& text) {
  auto cf = MainCf::Parse(text);
  BOOST_REQUIRE(cf.ok());
  auto s = LoadSettings(cf.value());
  if (!s.ok()) BOOST_FAIL("settings: " + s.failure().detail());
  return std::move(s).value();
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return "{" + out + "}";
}

const std::vector<Row>& Rows() {
  static const std::vector<Row> rows = {
      // Levels.
      {"default, credentials: secure (deliberate)", "", "[smtp.gmail.com]:587", "", true, {}, "secure",
       {"smtp.gmail.com", ".smtp.gmail.com"}, "", "smtp.gmail.com", "[smtp.gmail.com]:587|smtp.gmail.com:587"},
      {"default, no credentials: may", "", "[smtp.example.com]:587", "", false, {}, "may", {}, "",
       "smtp.example.com", ""},
      {"configured level wins over credentials", "smtp_tls_security_level = encrypt\n", "[x.example]:587", "", true,
       {}, "encrypt", {}, "", "x.example", ""},
      {"configured none", "smtp_tls_security_level = none\n", "[x.example]:25", "", false, {}, "none", {}, "",
       "x.example", ""},
      {"smtp_use_tls: may without credentials", "smtp_use_tls = yes\n", "[x.example]:587", "", false, {}, "may", {},
       "", "x.example", ""},
      {"smtp_use_tls: secure with credentials", "smtp_use_tls = yes\n", "[x.example]:587", "", true, {}, "secure",
       {"x.example", ".x.example"}, "", "x.example", ""},
      {"smtp_enforce_tls: verify", "smtp_enforce_tls = yes\n", "[x.example]:587", "", false, {}, "verify",
       {"x.example"}, "", "x.example", ""},
      {"smtp_enforce_tls, no peername: encrypt", "smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no\n",
       "[x.example]:587", "", false, {}, "encrypt", {}, "", "x.example", ""},
      {"port 465: at least encrypt (deliberate)", "smtp_tls_security_level = may\n", "[x.example]:465", "", false, {},
       "encrypt", {}, "", "x.example", ""},
      {"smtps service: at least encrypt", "smtp_tls_security_level = may\n", "[x.example]:smtps", "", false, {},
       "encrypt", {}, "", "x.example", ""},
      {"wrappermode with encrypt", "smtp_tls_wrappermode = yes\nsmtp_tls_security_level = encrypt\n",
       "[x.example]:10465", "", false, {}, "encrypt", {}, "", "x.example", ""},
      // Names and SNI.
      {"verify: hostname plus a literal", "smtp_tls_security_level = verify\n"
       "smtp_tls_verify_cert_match = hostname, mx.example\n", "[a.example]", "", false, {}, "verify",
       {"a.example", "mx.example"}, "", "a.example", ""},
      {"address next hop: no SNI", "smtp_tls_security_level = verify\n", "[192.0.2.7]:25", "", false, {}, "verify",
       {"192.0.2.7"}, "", "", ""},
      {"MX: verify checks the MX host", "smtp_tls_security_level = verify\n", "example.com", "mx1.example.com", false,
       {}, "verify", {"mx1.example.com"}, "", "mx1.example.com", "example.com|mx1.example.com:25"},
      {"MX: secure checks the domain", "smtp_tls_security_level = secure\n", "example.com", "mx1.example.com", false,
       {}, "secure", {"example.com", ".example.com"}, "", "mx1.example.com",
       "example.com|mx1.example.com:25"},
      {"smtp_tls_servername = nexthop", "smtp_tls_servername = nexthop\nsmtp_tls_security_level = encrypt\n",
       "example.com", "mx1.example.com", false, {}, "encrypt", {}, "", "example.com", ""},
      {"smtp_tls_servername literal", "smtp_tls_servername = sni.example\nsmtp_tls_security_level = encrypt\n",
       "[x.example]", "", false, {}, "encrypt", {}, "", "sni.example", ""},
      {"protocols at may", "smtp_tls_protocols = >=TLSv1.3\n", "[x.example]", "", false, {}, "may", {},
       ">=TLSv1.3", "x.example", ""},
      // Policy-map entries.
      {"entry: level and attributes", "", "[mx.example]:587", "", true,
       std::string("secure match=a.example:nexthop { servername = sni.example } protocols=>=TLSv1.3"), "secure",
       {"a.example", "mx.example"}, ">=TLSv1.3", "sni.example", ""},
      {"entry: fingerprints joined by |", "", "[x.example]", "", false, std::string("fingerprint match=AA:BB|CC:DD"),
       "fingerprint", {"AA:BB", "CC:DD"}, "", "x.example", ""},
      {"entry overrides main.cf level", "smtp_tls_security_level = secure\n", "[x.example]", "", true,
       std::string("encrypt"), "encrypt", {}, "", "x.example", ""},
      {"entry: implicit TLS still at least encrypt", "", "[x.example]:465", "", false, std::string("may"), "encrypt",
       {}, "", "x.example", ""},
      {"entry: bad level", "", "[x.example]", "", false, std::string("paranoid"), "", {}, "", "", "", "invalid TLS level"},
      {"entry: unknown attribute", "", "[x.example]", "", false, std::string("secure bogus=1"), "", {}, "", "", "",
       "unknown attribute"},
      {"entry: attribute without value", "", "[x.example]", "", false, std::string("secure match"), "", {}, "", "", "",
       "without value"},
      {"entry: bad protocols", "", "[x.example]", "", false, std::string("encrypt protocols=TLSv9"), "", {}, "", "",
       "", "protocols"},
      {"entry: empty", "", "[x.example]", "", false, std::string(""), "", {}, "", "", "", "empty policy"},
      {"entry: bad cipher grade", "", "[x.example]", "", false, std::string("may ciphers=ultra"), "", {}, "", "", "",
       "ciphers"},
      // Conformance with smtp(8) (each row failed before its fix).
      {"empty smtp_tls_secure_cert_match: fail closed", "smtp_tls_security_level = secure\nsmtp_tls_secure_cert_match =\n",
       "[x.example]:587", "", true, {}, "", {}, "", "", "", "smtp_tls_secure_cert_match is empty"},
      {"empty smtp_tls_verify_cert_match: fail closed", "smtp_tls_security_level = verify\nsmtp_tls_verify_cert_match =\n",
       "[x.example]:587", "", true, {}, "", {}, "", "", "", "smtp_tls_verify_cert_match is empty"},
      {"entry: empty match= fails closed", "", "[x.example]:587", "", true, std::string("secure match="), "", {}, "", "",
       "", "empty value"},
      {"main.cf match list split on colons too", "smtp_tls_secure_cert_match = nexthop:dot-nexthop\n",
       "[x.example]:587", "", true, {}, "secure", {"x.example", ".x.example"}, "", "x.example", ""},
      {"entry: match= at encrypt refused", "", "[x.example]:587", "", false, std::string("encrypt match=x.example"), "",
       {}, "", "", "", "invalid at security level"},
      {"entry: fingerprint without fingerprints refused", "", "[x.example]", "", false, std::string("fingerprint"), "",
       {}, "", "", "", "no fingerprints"},
      {"MX + entry verify: the MX host is checked, SNI and cache per MX host", "", "example.com", "mx1.example.com",
       false, std::string("verify"), "verify", {"mx1.example.com"}, "", "mx1.example.com",
       "example.com|mx1.example.com:25"},
      {"MX + entry match=hostname servername=hostname: the MX host", "", "example.com", "mx2.example.com", false,
       std::string("secure match=hostname servername=hostname"), "secure", {"mx2.example.com"}, "", "mx2.example.com",
       "example.com|mx2.example.com:25"},
      {"MX + entry servername=nexthop: the domain", "", "example.com", "mx2.example.com", false,
       std::string("encrypt servername=nexthop"), "encrypt", {}, "", "example.com", "example.com|mx2.example.com:25"},
      {"entry none: attributes ignored as smtp(8) does", "", "[x.example]", "", false,
       std::string("none protocols=TLSv9 match=x"), "none", {}, "", "x.example", ""},
      {"address next hop, implicit secure default: the IP SAN", "", "[192.0.2.1]:587", "", true, {}, "secure",
       {"192.0.2.1"}, "", "", "[192.0.2.1]:587|192.0.2.1:587"},
      {"address next hop, explicit secure: smtp(8)'s names", "smtp_tls_security_level = secure\n", "[192.0.2.1]:587", "",
       true, {}, "secure", {"192.0.2.1", ".192.0.2.1"}, "", "", ""},
      {"bad smtp_tls_protocols named", "smtp_tls_protocols = TLSv9\n", "[x.example]", "", false, {}, "", {}, "", "",
       "", "smtp_tls_protocols = TLSv9 is not a protocol list"},
      {"bad smtp_tls_mandatory_protocols named", "smtp_tls_mandatory_protocols = >=TLS1.2\n", "[x.example]", "", true,
       {}, "", {}, "", "", "", "smtp_tls_mandatory_protocols = >=TLS1.2 is not a protocol list"},
      {"empty smtp_tls_verify_cert_match refused at any level (smtp(8) will not start)",
       "smtp_tls_security_level = may\nsmtp_tls_verify_cert_match =\n", "[x.example]", "", true, {}, "", {}, "", "",
       "", "smtp_tls_verify_cert_match is empty"},
      {"wrappermode below encrypt refused as smtp(8) refuses it",
       "smtp_tls_wrappermode = yes\nsmtp_tls_security_level = may\n", "[x.example]:10465", "", false, {}, "", {}, "",
       "", "", "smtp_tls_wrappermode = yes requires"},
      {"dane without DNSSEC: may, as smtp(8) falls back", "smtp_tls_security_level = dane\n", "[x.example]", "", false,
       {}, "may", {}, "", "x.example", ""},
      {"entry dane: may", "", "[x.example]", "", false, std::string("dane"), "may", {}, "", "x.example", ""},
      {"entry dane-only without DNSSEC refused", "", "[x.example]", "", false, std::string("dane-only"), "", {}, "", "",
       "", "dane-only"},
      {"main.cf fingerprints split on commas and spaces only (they contain colons)", "smtp_tls_security_level = fingerprint\n"
       "smtp_tls_fingerprint_cert_match = AA:BB:CC, DD:EE:FF\n", "[x.example]", "", false, {}, "fingerprint",
       {"AA:BB:CC", "DD:EE:FF"}, "", "x.example", ""},
      {"address next hop, implicit secure default: the user's literal names still count", "smtp_tls_secure_cert_match = nexthop, example.test\n",
       "[192.0.2.1]:587", "", true, {}, "secure", {"192.0.2.1", "example.test"}, "", "", ""},
      {"address next hop at verify, host names only: names only, no IP SAN (as smtp(8))", "smtp_tls_security_level = verify\n"
       "smtp_tls_verify_cert_match = mx.test\n", "[192.0.2.1]", "", false, {}, "verify", {"mx.test"}, "", "", ""},
      {"address next hop at secure, host names only: names only", "smtp_tls_security_level = secure\n"
       "smtp_tls_secure_cert_match = .example.test\n", "[192.0.2.1]", "", false, {}, "secure", {".example.test"}, "",
       "", ""},
      {"address next hop at verify, hostname: the address (IP SAN) and the listed name", "smtp_tls_security_level = verify\n"
       "smtp_tls_verify_cert_match = hostname, mx.test\n", "[192.0.2.1]", "", false, {}, "verify",
       {"192.0.2.1", "mx.test"}, "", "", ""},
      {"address next hop, entry verify with a literal name: names only", "", "[192.0.2.1]:587", "", false,
       std::string("verify match=mx.test"), "verify", {"mx.test"}, "", "", ""},
      {"address next hop, implicit secure default, dot-nexthop alone: smtp(8)'s expansion (matches nothing)",
       "smtp_tls_secure_cert_match = dot-nexthop\n", "[192.0.2.1]:587", "", true, {}, "secure", {".192.0.2.1"}, "",
       "", ""},
      {"address next hop, implicit secure default, the user's names only: names only",
       "smtp_tls_secure_cert_match = example.test\n", "[192.0.2.1]:587", "", true, {}, "secure", {"example.test"}, "",
       "", ""},
  };
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_policy)

BOOST_AUTO_TEST_CASE(table) {
  BOOST_TEST_MESSAGE("case | next hop | server | creds | entry => level | names | protocols | SNI | cache peer");
  for (const Row& r : Rows()) {
    std::string printed;
    BOOST_TEST_CONTEXT(r.name) {
      Settings s = Load(r.main_cf);
      auto hops = ParseNextHops(r.nexthop);
      BOOST_REQUIRE(hops.ok());
      const NextHop& hop = hops.value()[0];
      TlsDestination dest{hop.verbatim, hop.host, *r.server ? r.server : hop.host, hop.port};
      auto d = ResolveTlsPolicy(s.tls, dest, r.creds, r.entry);
      std::ostringstream line;
      line << r.name << " | " << r.nexthop << " | " << dest.server_host << " | " << (r.creds ? "yes" : "no") << " | "
           << (r.entry ? "\"" + *r.entry + "\"" : std::string("-")) << " => ";
      if (*r.error) {
        BOOST_TEST(!d.ok(), "expected a configuration problem, got level "
                                << (d.ok() ? TlsLevelName(d.value().policy.level) : "") << " names "
                                << (d.ok() ? Join(d.value().policy.match_names) : ""));
        if (d.ok()) continue;
        BOOST_TEST(d.failure().dsn() == "4.7.5");
        BOOST_TEST(d.failure().text() == "client TLS configuration problem");
        BOOST_TEST(d.failure().detail().find(r.error) != std::string::npos, d.failure().detail());
        line << "4.7.5 " << d.failure().detail();
        printed = line.str();
      } else {
      BOOST_TEST(d.ok(), (d.ok() ? "" : d.failure().detail()));
      if (!d.ok()) continue;
      const TlsPolicy& p = d.value().policy;
      const auto& names = p.level == TlsLevel::kFingerprint ? p.fingerprints : p.match_names;
      BOOST_TEST(TlsLevelName(p.level) == std::string(r.level));
      BOOST_TEST(Join(names) == Join(r.names));
      BOOST_TEST(p.protocols == r.protocols);
      BOOST_TEST(p.server_name == r.sni);
      if (*r.peer) BOOST_TEST(p.session_peer == r.peer);
      line << TlsLevelName(p.level) << " | " << Join(names) << " | " << (p.protocols.empty() ? "(>=TLSv1.2 floor)" : p.protocols)
           << " | " << (p.server_name.empty() ? "(none)" : p.server_name) << " | " << p.session_peer;
      printed = line.str();
      }
    }
    BOOST_TEST_MESSAGE(printed);
  }
}

BOOST_AUTO_TEST_CASE(policy_keys_as_smtp8_asks_them) {
  std::vector<std::string> bare = {"mail.example.com", ".example.com", ".com"};
  BOOST_TEST(TlsPolicyKeys("mail.example.com", "mail.example.com", false, false) == bare,
             boost::test_tools::per_element());
  std::vector<std::string> bracketed = {"[smtp.gmail.com]:587"};
  BOOST_TEST(TlsPolicyKeys("[smtp.gmail.com]:587", "smtp.gmail.com", true, true) == bracketed,
             boost::test_tools::per_element());
  std::vector<std::string> port = {"example.com:587"};
  BOOST_TEST(TlsPolicyKeys("example.com:587", "example.com", false, true) == port, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
