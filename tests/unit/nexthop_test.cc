#include <boost/test/unit_test.hpp>

#include "smtp/nexthop.h"

using namespace authrelay;

BOOST_AUTO_TEST_SUITE(nexthop)

BOOST_AUTO_TEST_CASE(forms) {
  struct Case {
    const char* in;
    const char* host;
    bool bracketed;
    int port;
  } cases[] = {
      {"[smtp.gmail.com]:587", "smtp.gmail.com", true, 587},
      {"[smtp.gmail.com]", "smtp.gmail.com", true, 25},
      {"[192.0.2.1]:2525", "192.0.2.1", true, 2525},
      {"[::1]:465", "::1", true, 465},
      {"[ipv6:2001:db8::1]", "2001:db8::1", true, 25},
      {"example.com", "example.com", false, 25},
      {"example.com:587", "example.com", false, 587},
      {"[smtp.example.com]:submission", "smtp.example.com", true, 587},
      {"[smtp.example.com]:smtps", "smtp.example.com", true, 465},
      {"[smtp.example.com]:submissions", "smtp.example.com", true, 465},
      {"mx.example:smtp", "mx.example", false, 25},
  };
  for (const auto& c : cases) {
    BOOST_TEST_INFO(c.in);
    auto r = ParseNextHops(c.in);
    BOOST_REQUIRE(r.ok());
    BOOST_REQUIRE(r.value().size() == 1u);
    BOOST_TEST(r.value()[0].host == c.host);
    BOOST_TEST(r.value()[0].bracketed == c.bracketed);
    BOOST_TEST(r.value()[0].port == c.port);
    BOOST_TEST(r.value()[0].verbatim == c.in);
  }
}

BOOST_AUTO_TEST_CASE(lists_keep_order) {
  auto r = ParseNextHops("[a.example]:587, [b.example]:25 c.example");
  BOOST_REQUIRE(r.ok());
  BOOST_REQUIRE(r.value().size() == 3u);
  BOOST_TEST(r.value()[0].verbatim == "[a.example]:587");
  BOOST_TEST(r.value()[1].verbatim == "[b.example]:25");
  BOOST_TEST(r.value()[2].host == "c.example");
}

BOOST_AUTO_TEST_CASE(bad_forms_defer) {
  for (const char* bad : {"", "[unclosed:25", "[x]25", "[x]:99999", "[x]:nosuchservice", "2001:db8::1", "[]:25",
                          "a/b"}) {
    BOOST_TEST_INFO(bad);
    auto r = ParseNextHops(bad);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.failure().dsn() == "4.3.5");
  }
}

BOOST_AUTO_TEST_SUITE_END()
