// Envelope addresses on the wire: smtp(8)'s quoting (quote_821_local with
// 8-bit text as ordinary), no way out of <...>, and every path we produce
// matches the RFC 5321 grammar.
#include "smtp/address.h"

#include <boost/test/unit_test.hpp>
#include <random>

using namespace authrelay;

namespace {
std::string Path(const std::string& a, bool null_allowed = false) {
  EnvelopePath p = MakeEnvelopePath(a, null_allowed);
  return p.ok() ? p.path : "REFUSED: " + p.problem;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(envelope_address)

BOOST_AUTO_TEST_CASE(quoted_as_smtp8_quotes) {
  BOOST_TEST(Path("user@example.com") == "user@example.com");
  BOOST_TEST(Path("first.last+tag@example.com") == "first.last+tag@example.com");
  BOOST_TEST(Path("q r@example.test") == "\"q r\"@example.test");
  BOOST_TEST(Path("a\"b@example.test") == "\"a\\\"b\"@example.test");
  BOOST_TEST(Path("a\\b@example.test") == "\"a\\\\b\"@example.test");
  BOOST_TEST(Path(".lead@example.test") == "\".lead\"@example.test");
  BOOST_TEST(Path("trail.@example.test") == "\"trail.\"@example.test");
  BOOST_TEST(Path("two..dots@example.test") == "\"two..dots\"@example.test");
  BOOST_TEST(Path("a<>b@example.test") == "\"a<>b\"@example.test");
  BOOST_TEST(Path("a@b@example.test") == "\"a@b\"@example.test");
  BOOST_TEST(Path("@example.test") == "\"\"@example.test");
  BOOST_TEST(Path("postmaster") == "postmaster");
  BOOST_TEST(Path("j\xc3\xb8rn@example.test") == "j\xc3\xb8rn@example.test");  // 8-bit is ordinary (SMTPUTF8)
  BOOST_TEST(Path("user@[192.0.2.1]") == "user@[192.0.2.1]");
  BOOST_TEST(Path("user@[IPv6:2001:db8::1]") == "user@[IPv6:2001:db8::1]");
}

BOOST_AUTO_TEST_CASE(already_quoted_is_not_quoted_twice) {
  BOOST_TEST(Path("\"q r\"@example.test") == "\"q r\"@example.test");  // what pipe flags=q produces
  BOOST_TEST(Path("\"a\\\"b\"@example.test") == "\"a\\\"b\"@example.test");
  // Not a valid quoted-string: quoted as a whole.
  BOOST_TEST(Path("\"a\"b\"@example.test") == "\"\\\"a\\\"b\\\"\"@example.test");
}

BOOST_AUTO_TEST_CASE(angle_brackets_and_null_sender) {
  BOOST_TEST(Path("<>", true) == "");
  BOOST_TEST(Path("", true) == "");
  BOOST_TEST(Path("<>") == "REFUSED: empty address");
  BOOST_TEST(Path("") == "REFUSED: empty address");
  BOOST_TEST(Path("<user@example.com>") == "user@example.com");
}

BOOST_AUTO_TEST_CASE(no_parameter_injection_no_way_out_of_the_brackets) {
  // The last '@' leaves "y>" as the domain: refused, not sent.
  BOOST_TEST(Path("a@b> AUTH=<x@y>", true) == "REFUSED: domain is not a host name or address literal");
  // The domain is clean: the rest is one quoted local part, as smtp(8) sends it.
  BOOST_TEST(Path("r@a> NOTIFY=NEVER <z@example.org") == "\"r@a> NOTIFY=NEVER <z\"@example.org");
  BOOST_TEST(Path("r@example.org> NOTIFY=NEVER") == "REFUSED: domain is not a host name or address literal");
  BOOST_TEST(Path("a\r\nRSET@example.org") == "REFUSED: control character in address");
  BOOST_TEST(Path(std::string("a\0b@x.test", 10)) == "REFUSED: control character in address");
  BOOST_TEST(Path(std::string(250, 'a') + "@x.test") == "REFUSED: address longer than 254 octets");
  BOOST_TEST(Path(std::string(240, 'a') + "@x.test") == std::string(240, 'a') + "@x.test");
  // Quoting can push an address over the limit.
  BOOST_TEST(Path(std::string(247, ' ') + "@x.test") == "REFUSED: address longer than 254 octets");
  BOOST_TEST(Path("user@exa mple.com") == "REFUSED: domain is not a host name or address literal");
  BOOST_TEST(Path("user@") == "REFUSED: domain is not a host name or address literal");
  BOOST_TEST(Path("user@[1.2.3.4") == "REFUSED: domain is not a host name or address literal");
}

// Property: whatever the input, the result is refused or a path that
// matches the RFC 5321 grammar and cannot end the <...> or add a parameter.
BOOST_AUTO_TEST_CASE(every_path_matches_the_rfc5321_grammar) {
  std::mt19937 rng(12);
  const std::string alphabet = "ab.@<> \"\\=:;,()[]\t\r\n\x01\x7f\xc3\xa9-_+AUTH";
  for (int i = 0; i < 200000; ++i) {
    std::string a;
    std::size_t n = rng() % 24;
    for (std::size_t k = 0; k < n; ++k) a += alphabet[rng() % alphabet.size()];
    if (rng() % 2) a += "@example.test";
    EnvelopePath p = MakeEnvelopePath(a, true);
    if (!p.ok()) continue;
    BOOST_REQUIRE_MESSAGE(IsRfc5321Path(p.path), "not RFC 5321: [" << p.path << "] from [" << a << "]");
    std::string line = "MAIL FROM:<" + p.path + ">";
    // Outside a quoted-string there is no '>' (or space) before the end.
    bool quoted = false;
    for (std::size_t k = 11; k + 1 < line.size(); ++k) {
      if (quoted && line[k] == '\\') { ++k; continue; }
      if (line[k] == '"') quoted = !quoted;
      if (!quoted) BOOST_REQUIRE_MESSAGE(line[k] != '>' && line[k] != ' ', "breaks out: " << line);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
