#include <boost/test/unit_test.hpp>

#include "delivery/remedy.h"

using namespace authrelay;

BOOST_AUTO_TEST_SUITE(remedy)

// A failure the way the session makes it from a server's reply.
Failure Replied(const char* text, int code, const char* dsn, const char* reply, Cause cause = Cause::kServerReply) {
  return Failure(dsn, text).WithReply({code, dsn, reply}, cause);
}

BOOST_AUTO_TEST_CASE(known_provider_replies_get_a_fix) {
  struct Case {
    int code;
    const char* dsn;
    const char* reply;
    const char* fix_contains;
  } cases[] = {
      {534, "5.7.9", "534-5.7.9 Application-specific password required. 534 5.7.9 Learn more", "app password"},
      {535, "5.7.8", "535-5.7.8 Username and Password not accepted", "full address"},
      {454, "4.7.0", "454 4.7.0 Too many login attempts", "throttling"},
      {550, "5.4.5", "550 5.4.5 Daily SMTP relay limit exceeded", "daily sending limit"},
      {535, "5.7.139", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant",
       "Set-CASMailbox"},
      {535, "5.7.3", "535 5.7.3 Authentication unsuccessful", "MFA"},
      {550, "5.7.30", "550 5.7.30 Basic authentication is not supported for Client Submission.",
       "no longer accepts basic authentication"},
      {432, "4.3.2", "432 4.3.2 Concurrent connections limit exceeded", "concurrency_limit"},
      {554, "5.2.252", "554 5.2.252 SendAsDenied; a@x not allowed to send as b@y", "SendAsDenied"},
      {501, "5.5.127", "501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon", "10 minutes"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.reply) {
      std::string fix = RemedyFor(Replied("SASL authentication failed; server x[1.2.3.4] said: ...", c.code, c.dsn,
                                          c.reply, Cause::kAuthRejected));
      BOOST_TEST(fix.find(c.fix_contains) != std::string::npos);
    }
  }
  // The reply code narrows a common status: 4.7.0 without 454 is not throttling.
  BOOST_TEST(RemedyFor(Replied("x", 421, "4.7.0", "421 4.7.0 Try again later")).empty());
  // Gmail's 5.7.8 fix needs Gmail's words; another 535 5.7.8 gets the generic one.
  BOOST_TEST(RemedyFor(Replied("x", 535, "5.7.8", "535 5.7.8 Error: authentication failed", Cause::kAuthRejected))
                 .find("authrelay --lookup") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(local_failures_get_a_fix) {
  BOOST_TEST(RemedyFor(Failure("4.3.0", "local data error: cannot read lookup table hash:sasl_passwd")
                           .WithCause(Cause::kTableUnreadable))
                 .find("chmod 640") != std::string::npos);
  BOOST_TEST(RemedyFor(Failure("4.7.0", "SASL authentication failed; cannot authenticate to server x[1.2.3.4]: no "
                                        "mechanism available")
                           .WithCause(Cause::kNoSaslMechanism))
                 .find("noplaintext") != std::string::npos);
  Failure no_greeting = Failure("4.4.2", "conversation with x[1.2.3.4] timed out while receiving the initial server "
                                         "greeting")
                            .WithCause(Cause::kNoGreeting);
  BOOST_TEST(RemedyFor(no_greeting, 587).find("smtp_tls_wrappermode") != std::string::npos);
  BOOST_TEST(RemedyFor(no_greeting, 465).empty());
  Failure handshake = Failure("4.7.5", "Cannot start TLS: handshake failure").WithCause(Cause::kTlsHandshake);
  BOOST_TEST(RemedyFor(handshake, 465).find("587") != std::string::npos);
  BOOST_TEST(RemedyFor(handshake, 587).empty());
  BOOST_TEST(RemedyFor(Failure("4.7.5", "Cannot start TLS: cannot load CA certificates")
                           .WithCause(Cause::kTlsTrustUnreadable))
                 .find("smtp_tls_CAfile") != std::string::npos);
  BOOST_TEST(RemedyFor(Failure("4.4.1", "connect to x[1.2.3.4]:587: Connection refused")
                           .WithCause(Cause::kConnectRefused))
                 .find("port") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_failures_get_no_invented_fix) {
  BOOST_TEST(RemedyFor(Replied("host x[1.2.3.4] said: 550 5.1.1 no such user (in reply to RCPT TO command)", 550,
                               "5.1.1", "550 5.1.1 no such user"))
                 .empty());
}

// The wording is for people: a failure that only reads like a known one
// gets no fix, so rewording a message can never silently change a hint.
BOOST_AUTO_TEST_CASE(message_text_alone_decides_nothing) {
  for (const char* text : {"connect to x[1.2.3.4]:587: Connection refused", "Server certificate not verified",
                           "TLS is required, but was not offered by host x", "Cannot start TLS: handshake failure",
                           "local data error: cannot read lookup table hash:sasl_passwd",
                           "SASL authentication failed; server x said: 534-5.7.9 Application-specific password"}) {
    BOOST_TEST_CONTEXT(text) { BOOST_TEST(RemedyFor(Failure("4.7.0", text), 465).empty()); }
  }
}

BOOST_AUTO_TEST_CASE(the_fix_travels_apart_from_the_detail) {
  Failure f = Failure("4.3.0", "local data error", "cannot open /x.db: No such file").WithFix("run: postmap hash:/x");
  BOOST_TEST(f.bare_detail() == "cannot open /x.db: No such file");
  BOOST_TEST(f.fix() == "run: postmap hash:/x");
  BOOST_TEST(f.detail() == "cannot open /x.db: No such file (run: postmap hash:/x)");
  BOOST_TEST(f.Softened().fix() == "run: postmap hash:/x");
}

BOOST_AUTO_TEST_SUITE_END()
