// PIPELINING (RFC 2920): MAIL, RCPT and DATA go out as one group when the
// server offers it, and a refusal inside the group never lets a message
// through that the status to Postfix would not describe.
#include <boost/test/unit_test.hpp>

#include "protocol/test_client.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

// Greeting, STARTTLS, EHLO with PIPELINING, AUTH: the usual opening.
ScriptedServer& Opening(ScriptedServer& s) {
  return UpToTls(s, "server")
      .Expect("EHLO").Send("250-mx.test").Send("250-PIPELINING").Send("250 AUTH PLAIN")
      .Expect("AUTH PLAIN").Send("235 2.7.0 ok");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pipelining)

BOOST_AUTO_TEST_CASE(mail_rcpt_data_are_sent_before_any_reply) {
  ScriptedServer s;
  // The server reads all three commands before it answers any: a client
  // waiting for the MAIL reply would stall here and time out.
  Opening(s).Expect("MAIL FROM:<sender@example.org>").Expect("RCPT TO:<a@example.com>")
      .Expect("RCPT TO:<b@example.com>").Expect("DATA")
      .Send("250 2.1.0 ok").Send("250 2.1.5 ok").Send("250 2.1.5 ok").Send("354 go")
      .ReadData().Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  s.Start();
  Client c;
  c.env.recipients = {"a@example.com", "b@example.com"};
  c.policy.rcpt_timeout = c.policy.mail_timeout = 3;
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(r.delivered);
  BOOST_CHECK_EQUAL(s.Finish(), "");
  BOOST_CHECK_NE(s.data().find("hello"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(without_pipelining_the_client_waits_for_each_reply) {
  ScriptedServer s;
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH PLAIN")
      .Expect("AUTH PLAIN").Send("235 2.7.0 ok")
      .Expect("MAIL FROM:").Send("250 ok").Expect("RCPT TO:").Send("250 ok").Expect("DATA").Send("354 go")
      .ReadData().Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  s.Start();
  Client c;
  BOOST_CHECK(c.Run(s.port()).delivered);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

BOOST_AUTO_TEST_CASE(refused_recipient_and_refused_data_bounce_with_the_rcpt_text) {
  ScriptedServer s;
  Opening(s).Expect("MAIL FROM:").Expect("RCPT TO:").Expect("DATA")
      .Send("250 2.1.0 ok").Send("550 5.1.1 <rcpt@example.com>: no such user")
      .Send("554 5.5.1 Error: no valid recipients").Expect("QUIT").Send("221 bye");
  s.Start();
  Client c;
  AttemptResult r = c.Run(s.port());
  BOOST_REQUIRE(r.failure);
  BOOST_CHECK_EQUAL(r.failure->dsn(), "5.1.1");
  BOOST_CHECK_NE(r.failure->text().find("no such user (in reply to RCPT TO command)"), std::string::npos);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

BOOST_AUTO_TEST_CASE(a_354_after_a_refused_recipient_gets_no_message) {
  // Two recipients, one refused; the server still answers DATA with 354.
  // Finishing the message would deliver to one recipient while Postfix is
  // told both deferred: the client hangs up without the final dot.
  ScriptedServer s;
  Opening(s).Expect("MAIL FROM:").Expect("RCPT TO:<a@").Expect("RCPT TO:<b@").Expect("DATA")
      .Send("250 2.1.0 ok").Send("250 2.1.5 ok").Send("450 4.2.0 <b@example.com>: greylisted")
      .Send("354 go").ExpectClosed();
  s.Start();
  Client c;
  c.env.recipients = {"a@example.com", "b@example.com"};
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(!r.delivered);
  BOOST_REQUIRE(r.failure);
  BOOST_CHECK_EQUAL(r.failure->dsn()[0], '4');
  BOOST_CHECK_NE(r.failure->text().find("the other recipients are deferred too"), std::string::npos);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

BOOST_AUTO_TEST_CASE(refused_sender_reads_every_reply_and_reports_mail_from) {
  ScriptedServer s;
  Opening(s).Expect("MAIL FROM:").Expect("RCPT TO:").Expect("DATA")
      .Send("553 5.7.1 <sender@example.org>: Sender address rejected: not owned by user alice")
      .Send("503 5.5.1 Error: need MAIL command").Send("503 5.5.1 Error: need RCPT command")
      .Expect("QUIT").Send("221 bye");
  s.Start();
  Client c;
  AttemptResult r = c.Run(s.port());
  BOOST_REQUIRE(r.failure);
  BOOST_CHECK_EQUAL(r.failure->dsn(), "5.7.1");
  BOOST_CHECK_NE(r.failure->text().find("not owned by user alice (in reply to MAIL FROM command)"), std::string::npos);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

BOOST_AUTO_TEST_SUITE_END()
