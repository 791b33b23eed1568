// ORCPT (RFC 3461): sent with each RCPT TO, xtext-encoded, when the server
// offers DSN; never when it does not.
#include <boost/test/unit_test.hpp>

#include "protocol/test_client.h"
#include "smtp/dsn.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

std::vector<std::string> RcptLines(const ScriptedServer& s) {
  std::vector<std::string> out;
  for (const auto& l : s.received()) {
    if (l.rfind("RCPT TO:", 0) == 0) out.push_back(l);
  }
  return out;
}

AttemptResult Deliver(ScriptedServer& s, bool offer_dsn, bool pipelining, Client& c) {
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test");
  if (offer_dsn) s.Send("250-DSN");
  if (pipelining) s.Send("250-PIPELINING");
  s.Send("250 AUTH PLAIN").Expect("AUTH PLAIN").Send("235 2.7.0 ok");
  if (pipelining) {
    s.Expect("MAIL FROM:").Expect("RCPT TO:").Expect("RCPT TO:").Expect("DATA")
        .Send("250 ok").Send("250 ok").Send("250 ok").Send("354 go");
  } else {
    s.Expect("MAIL FROM:").Send("250 ok").Expect("RCPT TO:").Send("250 ok").Expect("RCPT TO:").Send("250 ok")
        .Expect("DATA").Send("354 go");
  }
  s.ReadData().Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  s.Start();
  c.env.recipients = {"a@example.com", "b@example.com"};
  // The second original recipient has '+' and '=' (xtext-escaped) and a
  // space, as pipe(8) with flags=q passes a quoted local part.
  c.env.original_recipients = {"alias@example.org", "\"x y\"+tag=1@example.org"};
  return c.Run(s.port());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(orcpt)

BOOST_AUTO_TEST_CASE(xtext_follows_rfc3461) {
  BOOST_CHECK_EQUAL(XtextEncode("a+b=c@d"), "a+2Bb+3Dc@d");
  BOOST_CHECK_EQUAL(XtextEncode(std::string("x y\x01\xc3\xa9", 6)), "x+20y+01+C3+A9");
  BOOST_CHECK_EQUAL(OrcptParameter(true, ""), "");
  BOOST_CHECK_EQUAL(OrcptParameter(false, "a@b"), "");
}

// What could only go out malformed is left out, never sent: a control byte
// or 8-bit text (an rfc822 ORCPT is printable ASCII), or a value past 500
// characters (the RCPT line could be refused, bouncing the recipient).
BOOST_AUTO_TEST_CASE(orcpt_left_out_when_it_cannot_be_a_valid_rfc822_orcpt) {
  BOOST_CHECK_EQUAL(OrcptParameter(true, "\"a b\"+x=1@d"), " ORCPT=rfc822;\"a+20b\"+2Bx+3D1@d");
  BOOST_CHECK_EQUAL(OrcptParameter(true, std::string("a\r\nRCPT TO:<x@y>@d", 17)), "");
  BOOST_CHECK_EQUAL(OrcptParameter(true, std::string("a\x00" "b@d", 6)), "");
  BOOST_CHECK_EQUAL(OrcptParameter(true, "j\xc3\xb6rg@example.org"), "");
  const std::string at_limit = std::string(493 - 2, 'a') + "@d";  // "rfc822;" + 493 = 500
  BOOST_CHECK_EQUAL(OrcptParameter(true, at_limit).size(), std::string(" ORCPT=").size() + 500);
  BOOST_CHECK_EQUAL(OrcptParameter(true, "x" + at_limit), "");
  BOOST_CHECK_EQUAL(OrcptParameter(true, std::string(200, ' ') + "@d"), "");  // 600 after encoding
}

BOOST_AUTO_TEST_CASE(sent_with_each_rcpt_when_dsn_is_offered) {
  for (bool pipelining : {false, true}) {
    ScriptedServer s;
    Client c;
    BOOST_CHECK(Deliver(s, true, pipelining, c).delivered);
    BOOST_CHECK_EQUAL(s.Finish(), "");
    auto lines = RcptLines(s);
    BOOST_REQUIRE_EQUAL(lines.size(), 2u);
    BOOST_TEST_MESSAGE("DSN offered" << (pipelining ? ", pipelined" : "") << ": " << lines[0] << " | " << lines[1]);
    BOOST_CHECK_EQUAL(lines[0], "RCPT TO:<a@example.com> ORCPT=rfc822;alias@example.org");
    BOOST_CHECK_EQUAL(lines[1], "RCPT TO:<b@example.com> ORCPT=rfc822;\"x+20y\"+2Btag+3D1@example.org");
  }
}

BOOST_AUTO_TEST_CASE(not_sent_when_dsn_is_not_offered) {
  ScriptedServer s;
  Client c;
  BOOST_CHECK(Deliver(s, false, false, c).delivered);
  BOOST_CHECK_EQUAL(s.Finish(), "");
  auto lines = RcptLines(s);
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST_MESSAGE("DSN not offered: " << lines[0] << " | " << lines[1]);
  BOOST_CHECK_EQUAL(lines[0], "RCPT TO:<a@example.com>");
  BOOST_CHECK_EQUAL(lines[1], "RCPT TO:<b@example.com>");
}

BOOST_AUTO_TEST_SUITE_END()
