#include <boost/test/unit_test.hpp>

#include "cli/options.h"

using namespace authrelay;

BOOST_AUTO_TEST_SUITE(options)

BOOST_AUTO_TEST_CASE(master_cf_argv) {
  auto o = ParseOptions({"--nexthop=[smtp.gmail.com]:587", "--sender=a@b.example", "--queue-id=4F2A1", "--size=1234",
                         "-c", "/etc/postfix", "-o", "smtp_tls_security_level = secure", "--", "x@y", "z@w"});
  BOOST_REQUIRE(o.ok());
  BOOST_TEST(*o.value().nexthop == "[smtp.gmail.com]:587");
  BOOST_TEST(*o.value().sender == "a@b.example");
  BOOST_TEST(o.value().queue_id == "4F2A1");
  BOOST_TEST(*o.value().size == 1234u);
  BOOST_TEST(*o.value().config_dir == "/etc/postfix");
  BOOST_REQUIRE(o.value().overrides.size() == 1u);
  BOOST_TEST(o.value().overrides[0].first == "smtp_tls_security_level");
  BOOST_TEST(o.value().overrides[0].second == "secure");
  BOOST_TEST(o.value().recipients.size() == 2u);
}

// pipe(8) repeats --orcpt=${original_recipient} once per recipient, in the
// recipients' order; an empty original recipient stays an empty entry.
BOOST_AUTO_TEST_CASE(orcpt_pairs_with_recipients) {
  auto o = ParseOptions({"--nexthop=[h]:587", "--sender=a@b", "--orcpt=alias@x", "--orcpt=", "--", "r1@y", "r2@y"});
  BOOST_REQUIRE(o.ok());
  BOOST_REQUIRE(o.value().original_recipients.size() == 2u);
  BOOST_TEST(o.value().original_recipients[0] == "alias@x");
  BOOST_TEST(o.value().original_recipients[1] == "");
  // The old argv without --orcpt still works.
  auto old = ParseOptions({"--nexthop=[h]:587", "--sender=a@b", "--", "r1@y"});
  BOOST_REQUIRE(old.ok());
  BOOST_TEST(old.value().original_recipients.empty());
}

BOOST_AUTO_TEST_CASE(oauth_enrol_flags) {
  auto o = ParseOptions({"--oauth-enrol", "/var/lib/authrelay/m.json", "--provider=microsoft", "--client-id", "app",
                         "--tenant=contoso.example", "--client-secret-file=/root/s", "--flow=client-credentials",
                         "--scope=x y", "--token-endpoint=https://t", "--device-endpoint=https://d",
                         "--authorize-endpoint=https://a", "--redirect-uri=http://localhost:8080"});
  BOOST_REQUIRE(o.ok());
  BOOST_TEST((o.value().mode == Mode::kOAuthEnrol));
  BOOST_TEST(o.value().target == "/var/lib/authrelay/m.json");
  const OAuthEnrolArgs& e = o.value().enrol;
  BOOST_TEST(e.provider == "microsoft");
  BOOST_TEST(e.client_id == "app");
  BOOST_TEST(e.tenant == "contoso.example");
  BOOST_TEST(e.client_secret_file == "/root/s");
  BOOST_TEST(e.flow == "client-credentials");
  BOOST_TEST(e.scope == "x y");
  BOOST_TEST(e.token_endpoint == "https://t");
  BOOST_TEST(e.device_endpoint == "https://d");
  BOOST_TEST(e.authorize_endpoint == "https://a");
  BOOST_TEST(e.redirect_uri == "http://localhost:8080");
  BOOST_TEST(ParseOptions({"--oauth-enroll=/x.json", "--provider=google", "--client-id=c"}).ok());  // US spelling
  auto missing = ParseOptions({"--oauth-enrol=/x.json", "--client-id"});
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.failure().text().find("--client-id needs a value") != std::string::npos);
  BOOST_TEST(!ParseOptions({"--oauth-enrol=/x.json", "--check"}).ok());
}

BOOST_AUTO_TEST_CASE(empty_sender_is_null_sender) {
  auto o = ParseOptions({"--nexthop=x", "--sender=", "--", "r@x"});
  BOOST_REQUIRE(o.ok());
  BOOST_REQUIRE(o.value().sender.has_value());
  BOOST_TEST(o.value().sender->empty());
}

BOOST_AUTO_TEST_CASE(recipients_that_look_like_options) {
  auto o = ParseOptions({"--nexthop=x", "--sender=s@x", "--", "-oQ@x", "--help@y", "--", "-c"});
  BOOST_REQUIRE(o.ok());
  std::vector<std::string> want = {"-oQ@x", "--help@y", "--", "-c"};
  BOOST_TEST(o.value().recipients == want, boost::test_tools::per_element());
  BOOST_TEST((o.value().mode == Mode::kDeliver));
}

BOOST_AUTO_TEST_CASE(usage_errors_defer_never_bounce) {
  std::vector<std::vector<std::string>> bad = {
      {"--sender=s", "--", "r"},                    // no nexthop
      {"--nexthop=x", "--", "r"},                   // no sender
      {"--nexthop=x", "--sender=s"},                // no recipients
      {"--nexthop=x", "--sender=s", "--bogus", "--", "r"},
      {"--nexthop=x", "--sender=s", "--size=12x", "--", "r"},
      {"--nexthop=x", "--sender=s", "-o", "novalue", "--", "r"},
      {"--nexthop=x", "--sender=s", "-c"},
      {"--check", "--probe", "x"},
  };
  for (const auto& args : bad) {
    auto o = ParseOptions(args);
    BOOST_REQUIRE(!o.ok());
    BOOST_TEST(o.failure().dsn() == "4.3.5");
  }
}

BOOST_AUTO_TEST_CASE(ops_modes) {
  auto o = ParseOptions({"--probe", "[smtp.gmail.com]:587", "--rcpt=a@b", "--json", "-v"});
  BOOST_REQUIRE(o.ok());
  BOOST_TEST((o.value().mode == Mode::kProbe));
  BOOST_TEST(o.value().target == "[smtp.gmail.com]:587");
  BOOST_TEST(o.value().probe_rcpt == "a@b");
  BOOST_TEST(o.value().json);
  BOOST_TEST(o.value().verbose == 1);
  auto l = ParseOptions({"--lookup=[x]:25", "--sender=s@x"});
  BOOST_REQUIRE(l.ok());
  BOOST_TEST((l.value().mode == Mode::kLookup));
  BOOST_TEST(ParseOptions({"--version"}).ok());
}

BOOST_AUTO_TEST_CASE(address_problems) {
  BOOST_TEST(AddressProblem("user@example.com").empty());
  BOOST_TEST(AddressProblem("").empty());
  BOOST_TEST(!AddressProblem("a\r\nRCPT TO:<x>@y").empty());
  BOOST_TEST(!AddressProblem(std::string("a\0b", 3)).empty());
  BOOST_TEST(!AddressProblem(std::string(300, 'a') + "@x").empty());
}

BOOST_AUTO_TEST_SUITE_END()
