#include <boost/test/unit_test.hpp>

#include <openssl/ssl.h>

#include "config/settings.h"
#include "sasl/sasl_client.h"

using namespace authrelay;

namespace {
Settings Load(const std::string& text) {
  auto cf = MainCf::Parse(text);
  BOOST_REQUIRE(cf.ok());
  auto s = LoadSettings(cf.value());
  if (!s.ok()) BOOST_FAIL("settings: " + s.failure().detail());
  return std::move(s).value();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(settings)

BOOST_AUTO_TEST_CASE(protocol_lists_as_postfix_reads_them) {
  int lo = -1, hi = -1;
  long no = 0;
  BOOST_REQUIRE(ProtocolRange("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", &lo, &hi, &no));
  BOOST_TEST(lo == 0);
  BOOST_TEST(hi == 0);
  BOOST_TEST(no == (SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1));
  BOOST_REQUIRE(ProtocolRange(">=TLSv1.3", &lo, &hi, &no));
  BOOST_TEST(lo == TLS1_3_VERSION);
  BOOST_TEST(no == 0);
  // Inclusion: everything not named is excluded.
  BOOST_REQUIRE(ProtocolRange("TLSv1.2 TLSv1.3", &lo, &hi, &no));
  BOOST_TEST(no == (SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1));
  // Colons separate as commas do; hex versions.
  BOOST_REQUIRE(ProtocolRange(">=TLSv1.2:<=0x0303", &lo, &hi, &no));
  BOOST_TEST(lo == TLS1_2_VERSION);
  BOOST_TEST(hi == TLS1_2_VERSION);
  BOOST_TEST(!ProtocolRange("TLSv9", &lo, &hi, &no));
  BOOST_TEST(!ProtocolRange(">=TLSv9", &lo, &hi, &no));
}

BOOST_AUTO_TEST_CASE(security_level_zero_only_where_the_list_admits_tls_below_1_2) {
  // The lists the differential harness found smtp(8) negotiating TLS 1.1
  // with, and lists that keep TLS 1.2 as the floor.
  auto admits = [](const char* list) {
    int lo = 0, hi = 0;
    long no = 0;
    BOOST_REQUIRE(ProtocolRange(list, &lo, &hi, &no));
    return AdmitsPreTls12(lo, hi, no);
  };
  BOOST_TEST(admits("!SSLv2, !SSLv3"));
  BOOST_TEST(admits("!TLSv1.2"));
  BOOST_TEST(admits("!TLSv1.3"));
  BOOST_TEST(admits(">=TLSv1.1"));
  BOOST_TEST(admits("TLSv1.1 TLSv1.2"));
  BOOST_TEST(!admits("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"));
  BOOST_TEST(!admits(">=TLSv1.2"));
  BOOST_TEST(!admits("TLSv1.2 TLSv1.3"));
  BOOST_TEST(!admits("<=SSLv3"));
  // No list at all: TlsClient applies the TLS 1.2 floor.
  BOOST_TEST(!AdmitsPreTls12(TLS1_2_VERSION, 0, 0));
}

BOOST_AUTO_TEST_CASE(fingerprint_digest_follows_compatibility_level) {
  BOOST_TEST(Load("").tls.fingerprint_digest == "md5");
  BOOST_TEST(Load("compatibility_level = 3.6\n").tls.fingerprint_digest == "sha256");
  BOOST_TEST(Load("compatibility_level = 2\n").tls.fingerprint_digest == "md5");
  BOOST_TEST(Load("smtp_tls_fingerprint_digest = sha1\n").tls.fingerprint_digest == "sha1");
}

BOOST_AUTO_TEST_CASE(mime_output_conversion_parameters) {
  Settings d = Load("");
  BOOST_TEST(d.session.mime.output_conversion);
  BOOST_TEST(d.session.mime.nesting_limit == 100u);
  BOOST_TEST(d.session.mime.boundary_length_limit == 2048u);
  BOOST_TEST(d.session.mime.header_size_limit == 102400u);
  Settings s = Load(
      "disable_mime_output_conversion = yes\nmime_nesting_limit = 5\nmime_boundary_length_limit = 70\n"
      "header_size_limit = 4096\n");
  BOOST_TEST(!s.session.mime.output_conversion);
  BOOST_TEST(s.session.mime.nesting_limit == 5u);
  BOOST_TEST(s.session.mime.boundary_length_limit == 70u);
  BOOST_TEST(s.session.mime.header_size_limit == 4096u);
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


BOOST_AUTO_TEST_SUITE(mechanism_filter)

// smtp_sasl_mechanism_filter is a Postfix string list: the first pattern
// that matches decides (a "!" pattern excludes), and a mechanism no pattern
// matches is excluded; a table matches a mechanism when it has a value for
// its name (static: has one for every name).
std::vector<std::string> Filter(const std::string& main_cf, std::vector<std::string> offered = {"PLAIN", "LOGIN", "CRAM-MD5"}) {
  Settings s = Load(main_cf);
  return FilterMechanisms(offered, s.session.mechanism_filter, nullptr);
}

BOOST_AUTO_TEST_CASE(as_a_postfix_string_list) {
  using V = std::vector<std::string>;
  BOOST_TEST(Filter("") == (V{"PLAIN", "LOGIN", "CRAM-MD5"}), boost::test_tools::per_element());
  BOOST_TEST(Filter("smtp_sasl_mechanism_filter = !plain\n").empty());  // only negations: nothing
  BOOST_TEST(Filter("smtp_sasl_mechanism_filter = !plain, !login\n").empty());
  BOOST_TEST(Filter("smtp_sasl_mechanism_filter = !plain, login, cram-md5\n") == (V{"LOGIN", "CRAM-MD5"}),
             boost::test_tools::per_element());
  BOOST_TEST(Filter("smtp_sasl_mechanism_filter = login, !login\n") == (V{"LOGIN"}), boost::test_tools::per_element());
  BOOST_TEST(Filter("smtp_sasl_mechanism_filter = static:plain\n") == (V{"PLAIN", "LOGIN", "CRAM-MD5"}),
             boost::test_tools::per_element());
  BOOST_TEST(Filter("smtp_sasl_mechanism_filter = !static:x\n").empty());
  BOOST_TEST(Filter("smtp_sasl_mechanism_filter = static:plain\n", {"XFOO"}) == (V{"XFOO"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
