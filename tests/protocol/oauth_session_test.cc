// XOAUTH2 through the real Session, Connection and TLS against a scripted
// server: the exact AUTH line, the error challenge Google sends for a bad
// token and the deferral that follows, and no token in the transcript.
#include <boost/test/unit_test.hpp>

#include "core/base64.h"
#include "protocol/test_client.h"
#include "sasl/oauth_client.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

const std::string kToken = "ya29.protocol-test-token-Secret";

void UseOAuth(Client& c) {
  c.policy.sasl_factory = [](unsigned) -> Result<std::unique_ptr<SaslClient>> {
    return std::unique_ptr<SaslClient>(
        std::make_unique<OAuthSaslClient>("relay@example.com", Secret(kToken), "mx.test", 587));
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oauth_session)

BOOST_AUTO_TEST_CASE(xoauth2_initial_response_then_mail) {
  std::string expected = "AUTH XOAUTH2 " + Base64Encode("user=relay@example.com\x01" "auth=Bearer " + kToken + "\x01\x01");
  ScriptedServer s;
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH LOGIN PLAIN XOAUTH2")
      .Expect(expected).Send("235 2.7.0 Accepted")
      .Expect("MAIL FROM:").Send("250 ok").Expect("RCPT TO:").Send("250 ok").Expect("DATA").Send("354 go")
      .ReadData().Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  s.Start();
  Client c;
  UseOAuth(c);
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(r.delivered);
  BOOST_CHECK_EQUAL(r.chosen_mechanism, "XOAUTH2");
  BOOST_CHECK_EQUAL(s.Finish(), "");
  std::string log = ReadFile(GlobalSetup::LogPath());
  BOOST_CHECK(log.find(kToken) == std::string::npos);
  BOOST_CHECK(log.find(expected.substr(13, 40)) == std::string::npos);  // nor its base64
}

BOOST_AUTO_TEST_CASE(refused_token_gets_the_empty_answer_and_defers) {
  // Google: 334 with a base64 JSON error, the client answers with an empty
  // line, then 535. With smtp_sasl_auth_soft_bounce (default) that defers.
  ScriptedServer s;
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH XOAUTH2")
      .Expect("AUTH XOAUTH2 ")
      .Send("334 " + Base64Encode(R"({"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"})"))
      .Expect("").Send("535-5.7.8 Username and Password not accepted.").Send("535 5.7.8 https://support.google.com/mail/?p=BadCredentials")
      .ExpectClosed();
  s.Start();
  Client c;
  UseOAuth(c);
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(!r.delivered);
  BOOST_REQUIRE(r.failure);
  BOOST_CHECK_MESSAGE(r.failure->dsn() == "4.7.8", r.failure->dsn() + " " + r.failure->text() + " / " + r.failure->detail());
  BOOST_CHECK_NE(r.failure->text().find("SASL authentication failed"), std::string::npos);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

BOOST_AUTO_TEST_SUITE_END()
