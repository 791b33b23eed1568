#include <boost/test/unit_test.hpp>

#include "delivery/remedy.h"

using namespace authrelay;

BOOST_AUTO_TEST_SUITE(remedy)

BOOST_AUTO_TEST_CASE(known_provider_replies_get_a_fix) {
  struct Case {
    const char* text;
    const char* fix_contains;
  } cases[] = {
      {"SASL authentication failed; server smtp.gmail.com[1.2.3.4] said: 534-5.7.9 Application-specific password "
       "required. 534 5.7.9 Learn more",
       "app password"},
      {"SASL authentication failed; server smtp.gmail.com[1.2.3.4] said: 535-5.7.8 Username and Password not accepted",
       "full address"},
      {"SASL authentication failed; server smtp.gmail.com[1.2.3.4] said: 454 4.7.0 Too many login attempts",
       "throttling"},
      {"host smtp-relay.gmail.com[1.2.3.4] said: 550 5.4.5 Daily SMTP relay limit exceeded (in reply to MAIL FROM "
       "command)",
       "daily sending limit"},
      {"SASL authentication failed; server smtp.office365.com[1.2.3.4] said: 535 5.7.139 Authentication unsuccessful, "
       "SmtpClientAuthentication is disabled for the Tenant",
       "Set-CASMailbox"},
      {"SASL authentication failed; server smtp.office365.com[1.2.3.4] said: 535 5.7.3 Authentication unsuccessful",
       "MFA"},
      {"SASL authentication failed; server smtp.office365.com[1.2.3.4] said: 550 5.7.30 Basic authentication is not "
       "supported for Client Submission.",
       "no longer accepts basic authentication"},
      {"host smtp.office365.com[1.2.3.4] said: 432 4.3.2 Concurrent connections limit exceeded (in reply to MAIL FROM "
       "command)",
       "concurrency_limit"},
      {"host smtp.office365.com[1.2.3.4] said: 554 5.2.252 SendAsDenied; a@x not allowed to send as b@y (in reply to "
       "end of DATA command)",
       "SendAsDenied"},
      {"SASL authentication failed; server smtp.office365.com[1.2.3.4] said: 501 5.5.127 Invalid XOAUTH2 auth data - "
       "Token will expire soon",
       "10 minutes"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.text) {
      std::string fix = RemedyFor(Failure("4.7.0", c.text));
      BOOST_TEST(fix.find(c.fix_contains) != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(local_failures_get_a_fix) {
  BOOST_TEST(RemedyFor(Failure("4.3.0", "local data error: cannot read lookup table hash:sasl_passwd")).find("chmod 640") !=
             std::string::npos);
  BOOST_TEST(RemedyFor(Failure("4.7.0", "SASL authentication failed; cannot authenticate to server x[1.2.3.4]: no "
                                        "mechanism available"))
                 .find("noplaintext") != std::string::npos);
  BOOST_TEST(RemedyFor(Failure("4.4.2", "conversation with x[1.2.3.4] timed out while receiving the initial server "
                                        "greeting"),
                       587)
                 .find("smtp_tls_wrappermode") != std::string::npos);
  BOOST_TEST(RemedyFor(Failure("4.7.5", "Cannot start TLS: handshake failure"), 465).find("587") != std::string::npos);
  BOOST_TEST(RemedyFor(Failure("4.7.5", "Cannot start TLS: cannot load CA certificates")).find("smtp_tls_CAfile") !=
             std::string::npos);
  BOOST_TEST(RemedyFor(Failure("4.4.1", "connect to x[1.2.3.4]:587: Connection refused")).find("port") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_failures_get_no_invented_fix) {
  BOOST_TEST(RemedyFor(Failure("5.1.1", "host x[1.2.3.4] said: 550 5.1.1 no such user (in reply to RCPT TO command)"))
                 .empty());
}

BOOST_AUTO_TEST_SUITE_END()
