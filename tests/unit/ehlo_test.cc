#include <boost/test/unit_test.hpp>

#include "smtp/ehlo.h"

using namespace authrelay;

namespace {
Reply Ehlo(std::vector<std::string> lines) {
  Reply r;
  r.code = 250;
  r.lines = std::move(lines);
  return r;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(ehlo)

BOOST_AUTO_TEST_CASE(gmail_like_capabilities) {
  Capabilities c = ParseEhlo(Ehlo({"250-smtp.gmail.com at your service", "250-SIZE 35882577", "250-8BITMIME",
                                   "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
                                   "250-ENHANCEDSTATUSCODES", "250-PIPELINING", "250-CHUNKING", "250 SMTPUTF8"}));
  BOOST_TEST(c.auth);
  BOOST_TEST(c.size);
  BOOST_REQUIRE(c.size_limit.has_value());
  BOOST_TEST(*c.size_limit == 35882577u);
  BOOST_TEST(c.eightbitmime);
  BOOST_TEST(c.pipelining);
  BOOST_TEST(c.smtputf8);
  BOOST_TEST(c.enhanced_status_codes);
  BOOST_TEST(!c.starttls);
  std::vector<std::string> want = {"LOGIN", "PLAIN", "XOAUTH2", "PLAIN-CLIENTTOKEN", "OAUTHBEARER", "XOAUTH"};
  BOOST_TEST(c.auth_mechanisms == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(old_auth_equals_form_lowercase_and_duplicates) {
  Capabilities c = ParseEhlo(Ehlo({"250-mx", "250-starttls", "250-AUTH=login plain", "250-AUTH PLAIN CRAM-MD5",
                                   "250 SIZE"}));
  BOOST_TEST(c.starttls);
  std::vector<std::string> want = {"LOGIN", "PLAIN", "CRAM-MD5"};
  BOOST_TEST(c.auth_mechanisms == want, boost::test_tools::per_element());
  BOOST_TEST(c.size);
  BOOST_TEST(!c.size_limit.has_value());
}

BOOST_AUTO_TEST_CASE(greeting_line_is_not_a_capability) {
  Capabilities c = ParseEhlo(Ehlo({"250 STARTTLS"}));
  BOOST_TEST(!c.starttls);
}

BOOST_AUTO_TEST_SUITE_END()
