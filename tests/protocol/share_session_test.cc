// The Session hooks connection sharing uses: QUIT goes with the final dot
// for a session that is not kept; a kept session ends with no QUIT; a
// resumed (held) session starts with RSET and goes straight to MAIL, and a
// failed RSET lets the caller connect directly.
#include <boost/test/unit_test.hpp>

#include "protocol/test_client.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

ScriptedServer& Opening(ScriptedServer& s) {
  return UpToTls(s, "server")
      .Expect("EHLO").Send("250-mx.test").Send("250-PIPELINING").Send("250 AUTH PLAIN")
      .Expect("AUTH PLAIN").Send("235 2.7.0 ok");
}

Capabilities Pipelining() {
  Capabilities caps;
  caps.pipelining = true;
  return caps;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(share_session)

BOOST_AUTO_TEST_CASE(quit_goes_out_with_the_final_dot) {
  // The server answers the dot only after it has read QUIT: a client that
  // waits for the 250 before sending QUIT times out here.
  ScriptedServer s;
  Opening(s).Expect("MAIL FROM:").Expect("RCPT TO:").Expect("DATA")
      .Send("250 2.1.0 ok").Send("250 2.1.5 ok").Send("354 go")
      .ReadData().Expect("QUIT").Send("250 2.0.0 queued").Send("221 bye");
  s.Start();
  Client c;
  c.policy.data_done_timeout = 3;
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(r.delivered);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

BOOST_AUTO_TEST_CASE(a_kept_session_sends_no_quit) {
  ScriptedServer s;
  Opening(s).Expect("MAIL FROM:").Expect("RCPT TO:").Expect("DATA")
      .Send("250 2.1.0 ok").Send("250 2.1.5 ok").Send("354 go")
      .ReadData().Send("250 2.0.0 queued").ExpectClosed();
  s.Start();
  Client c;
  c.policy.keep_open = true;
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(r.delivered);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

BOOST_AUTO_TEST_CASE(a_resumed_session_starts_with_rset_then_the_transaction) {
  // No greeting, EHLO, STARTTLS or AUTH: the holder's session had them.
  ScriptedServer s;
  s.Expect("RSET").Send("250 2.0.0 ok")
      .Expect("MAIL FROM:<sender@example.org>").Expect("RCPT TO:<rcpt@example.com>").Expect("DATA")
      .Send("250 2.1.0 ok").Send("250 2.1.5 ok").Send("354 go")
      .ReadData().Send("250 2.0.0 queued").ExpectClosed();
  s.Start();
  Client c;
  c.tls.level = TlsLevel::kMay;
  c.policy.keep_open = true;
  c.policy.resume = Pipelining();
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(r.delivered);
  BOOST_CHECK_EQUAL(s.Finish(), "");
  BOOST_CHECK_NE(s.data().find("hello"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_resumed_session_lost_at_rset_may_be_retried_directly) {
  ScriptedServer s;
  s.Expect("RSET").Close();
  s.Start();
  Client c;
  c.tls.level = TlsLevel::kMay;
  c.policy.keep_open = true;
  c.policy.resume = Pipelining();
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(!r.delivered);
  BOOST_CHECK(r.try_next);
  BOOST_REQUIRE(r.failure);
  BOOST_CHECK_EQUAL(r.failure->dsn(), "4.4.2");
  s.Finish();
}

BOOST_AUTO_TEST_SUITE_END()
