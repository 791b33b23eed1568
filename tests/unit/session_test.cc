// The SMTP state machine over an in-memory transport: every verdict is
// classified and worded as smtp(8) does.
#include <boost/test/unit_test.hpp>

#include "credmap/credentials.h"
#include "fakes/fake_transport.h"
#include "smtp/session.h"

using namespace authrelay;
using authrelay::testing::FakeTransport;
using authrelay::testing::StringSource;

namespace {

const char* kServer = "mx.example[192.0.2.1]";

struct Fixture {
  FakeTransport t;
  SessionPolicy policy;
  Envelope env{"sender@example.org", {"rcpt@example.com"}, std::nullopt, {}};
  Fixture() { policy.helo_name = "relay.example"; }
  AttemptResult Run(const std::string& message = "Subject: x\n\nbody\n") {
    Session s(t, kServer, 25, policy);
    StringSource src(message);
    return s.Run(env, src, Deadline::AfterSeconds(10));
  }
  void Script(std::initializer_list<const char*> lines) {
    for (const char* l : lines) t.replies.emplace_back(l);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(session, Fixture)

BOOST_AUTO_TEST_CASE(plain_delivery) {
  policy.tls_level = TlsLevel::kMay;
  Script({"220 mx ESMTP", "250-mx", "250-SIZE 1000000", "250 8BITMIME", "250 2.1.0 Ok", "250 2.1.5 Ok",
          "354 go ahead", "250 2.0.0 Ok: queued as ABC", "221 bye"});
  env.size = 42;
  AttemptResult r = Run("line one\n.dot\n");
  BOOST_TEST(r.delivered);
  BOOST_TEST(r.final_reply == "250 2.0.0 Ok: queued as ABC");
  BOOST_TEST(t.written ==
             "EHLO relay.example\r\nMAIL FROM:<sender@example.org> SIZE=42 BODY=8BITMIME\r\n"
             "RCPT TO:<rcpt@example.com>\r\nDATA\r\nline one\r\n..dot\r\n.\r\nQUIT\r\n");
}

BOOST_AUTO_TEST_CASE(null_sender) {
  env.sender = "";
  Script({"220 mx", "250 mx", "250 ok", "250 ok", "354 go", "250 ok"});
  BOOST_TEST(Run().delivered);
  BOOST_TEST(t.written.find("MAIL FROM:<>\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(greeting_5xx_is_softened_and_tries_next) {
  Script({"554 5.7.1 go away"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.1");
  BOOST_TEST(r.failure->text() == "host mx.example[192.0.2.1] refused to talk to me: 554 5.7.1 go away");
  BOOST_TEST(r.try_next);
}

BOOST_AUTO_TEST_CASE(helo_fallback) {
  Script({"220 mx", "502 no EHLO", "250 hello", "250 ok", "250 ok", "354 go", "250 ok"});
  BOOST_TEST(Run().delivered);
  BOOST_TEST(t.written.rfind("EHLO relay.example\r\nHELO relay.example\r\n", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(tls_required_but_not_offered) {
  policy.tls_level = TlsLevel::kSecure;
  Script({"220 mx", "250-mx", "250 AUTH PLAIN"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.4");
  BOOST_TEST(r.failure->text() == "TLS is required, but was not offered by host mx.example[192.0.2.1]");
  BOOST_TEST(t.written.find("AUTH") == std::string::npos);
  BOOST_TEST(t.written.find("MAIL") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(plaintext_after_starttls_reply_is_dropped_unread) {
  // smtp(8) drops what came behind the 220 and goes on over TLS; read as the
  // EHLO reply, the injected 554 would end the session.
  policy.tls_level = TlsLevel::kEncrypt;
  t.injected_after_starttls = 1;
  Script({"220 mx", "250-mx", "250 STARTTLS", "220 go ahead", "554 5.7.1 injected", "250 mx", "250 ok", "250 ok",
          "354 go", "250 ok"});
  AttemptResult r = Run();
  BOOST_TEST(r.delivered);
  BOOST_TEST(t.discarded == std::string("554 5.7.1 injected\r\n").size());
  BOOST_TEST(t.written.find("STARTTLS\r\nEHLO relay.example\r\nMAIL FROM") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unverified_certificate_stops_before_auth) {
  policy.tls_level = TlsLevel::kSecure;
  t.tls_result = TlsFailure::kNotVerified;
  Credentials c;
  c.username = "u";
  c.password = Secret("p");
  policy.sasl_username = c.username;
  Script({"220 mx", "250-mx", "250 STARTTLS", "220 go ahead"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.5");
  BOOST_TEST(r.failure->text() == "Server certificate not verified");
  BOOST_TEST(t.written == "EHLO relay.example\r\nSTARTTLS\r\n");
}

BOOST_AUTO_TEST_CASE(credentials_never_cross_plaintext) {
  policy.tls_level = TlsLevel::kMay;
  Credentials c;
  c.username = "u";
  c.password = Secret("p");
  policy.sasl_username = c.username;
  bool factory_called = false;
  policy.sasl_factory = [&](unsigned, bool) -> Result<std::unique_ptr<SaslClient>> {
    factory_called = true;
    return Failure("4.7.0", "x");
  };
  Script({"220 mx", "250-mx", "250 AUTH PLAIN LOGIN"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.4");
  BOOST_TEST(!factory_called);
  BOOST_TEST(t.written.find("AUTH") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(message_over_server_size_bounces_before_mail) {
  env.size = 5000;
  Script({"220 mx", "250-mx", "250 SIZE 1000", "221 bye"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "5.3.4");
  BOOST_TEST(r.failure->text() == "message size 5000 exceeds size limit 1000 of server mx.example[192.0.2.1]");
  BOOST_TEST(!r.try_next);
  BOOST_TEST(t.written.find("MAIL") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(mail_rejected_uses_server_code) {
  Script({"220 mx", "250 mx", "530 5.7.0 Authentication required"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "5.7.0");
  BOOST_TEST(r.failure->text() ==
             "host mx.example[192.0.2.1] said: 530 5.7.0 Authentication required (in reply to MAIL FROM command)");
  BOOST_TEST(!r.try_next);
}

BOOST_AUTO_TEST_CASE(one_of_two_recipients_refused_defers_all_and_sends_nothing) {
  env.recipients = {"a@x", "b@x"};
  Script({"220 mx", "250 mx", "250 ok", "250 ok", "550 5.1.1 no such user"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.1.1");
  BOOST_TEST(t.written.find("DATA") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(all_recipients_refused_permanently_bounces) {
  env.recipients = {"a@x", "b@x"};
  Script({"220 mx", "250 mx", "250 ok", "550 5.1.1 no a", "550 5.1.1 no b"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "5.1.1");
  BOOST_TEST(r.failure->text().find("(and 1 more recipients refused)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(mixed_temporary_and_permanent_refusals_defer) {
  env.recipients = {"a@x", "b@x"};
  Script({"220 mx", "250 mx", "250 ok", "550 5.1.1 no a", "450 4.2.1 busy"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn()[0] == '4');
}

BOOST_AUTO_TEST_CASE(lost_connection_after_dot_may_duplicate) {
  Script({"220 mx", "250 mx", "250 ok", "250 ok", "354 go"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.4.2");
  BOOST_TEST(r.failure->text() ==
             "lost connection with mx.example[192.0.2.1] while sending end of data -- message may be sent more than once");
}

BOOST_AUTO_TEST_CASE(timeout_is_worded_as_smtp8) {
  t.timeout_when_empty = true;
  Script({"220 mx"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->text() == "conversation with mx.example[192.0.2.1] timed out while performing the EHLO handshake");
  BOOST_TEST(r.try_next);
}

BOOST_AUTO_TEST_CASE(data_answered_with_2xx_is_a_protocol_error) {
  Script({"220 mx", "250 mx", "250 ok", "250 ok", "250 what"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.5.0");
}

BOOST_AUTO_TEST_CASE(garbage_reply_defers) {
  Script({"220 mx", "hello? this is not SMTP"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.5.0");
}

BOOST_AUTO_TEST_CASE(final_dot_rejected_uses_server_code) {
  Script({"220 mx", "250 mx", "250 ok", "250 ok", "354 go", "554 5.7.1 spam"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "5.7.1");
  BOOST_TEST(r.failure->text().find("(in reply to end of DATA command)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(utf8_address_needs_smtputf8) {
  env.recipients = {"j\xc3\xb6rg@example.de"};
  Script({"220 mx", "250 mx", "221 bye"});
  AttemptResult r = Run();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "5.6.7");
}

BOOST_AUTO_TEST_SUITE_END()
