// Provider throttle replies, each from a scripted server as the provider
// words it: the status line Postfix gets names the limit (a daily quota
// told apart from a rate or concurrency limit) and the fix, and the exit
// is 75 (deferred), even for Gmail's 550 5.4.5 and Microsoft's 554 5.2.0.
// An ordinary 5xx still bounces.
#include <boost/test/unit_test.hpp>

#include "delivery/report.h"
#include "protocol/test_client.h"
#include "smtp/throttle.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

struct Sample {
  std::string reply;     // as the provider sends it
  std::string expect;    // must appear in the status line
};

// Written from the providers' replies as admins report them, not from the
// table in src/smtp/throttle.cc (whose entries they must each hit).
const std::vector<Sample> kSamples = {
    {"432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.",
     "concurrency limit reached (Microsoft 365: 3 concurrent connections per mailbox)"},
    {"432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=AM0PR01MB1234]",
     "concurrency limit reached (Microsoft 365: 3 concurrent connections per mailbox)"},
    {"554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message",
     "daily quota reached (Microsoft 365: 10,000 recipients a day"},
    {"550 5.4.5 Daily SMTP relay limit exceeded for user. For more information on SMTP relay sending limits please "
     "visit https://support.google.com/a/answer/166852",
     "daily quota reached (Google SMTP relay"},
    {"450 4.2.1 Peak SMTP relay limit exceeded for customer. For more information on SMTP relay sending limits",
     "rate limit reached (Google SMTP relay: peak relay rate)"},
    {"550 5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to "
     "https://support.google.com/a/answer/166852",
     "daily quota reached (Gmail: daily sending limit"},
    {"421 4.7.0 Try again later, closing connection.", "rate limit reached (Gmail: sending rate"},
    {"454 Throttling failure: Maximum sending rate exceeded.", "rate limit reached (Amazon SES: the account's maximum sending rate"},
    {"454 Throttling failure: Daily message quota exceeded.", "daily quota reached (Amazon SES: the account's daily sending quota"},
};

Report RunAgainst(const std::string& reply_at_mail) {
  ScriptedServer s;
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH PLAIN")
      .Expect("AUTH PLAIN").Send("235 2.7.0 ok")
      .Expect("MAIL FROM:").Send(reply_at_mail).Expect("QUIT").Send("221 bye");
  s.Start();
  Client c;
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK_EQUAL(s.Finish(), "");
  BOOST_REQUIRE(r.failure);
  return FailureReport(*r.failure);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(throttle)

BOOST_AUTO_TEST_CASE(every_table_entry_has_a_sample) {
  std::size_t hit = 0;
  for (const auto& t : ThrottleReplies()) {
    bool found = false;
    for (const auto& sample : kSamples) {
      Reply r;
      r.code = std::stoi(sample.reply.substr(0, 3));
      r.lines = {sample.reply};
      r.dsn = EnhancedCodeAt(sample.reply.substr(4), r.cls());
      if (FindThrottleReply(r) == &t) found = true;
    }
    BOOST_CHECK_MESSAGE(found, "no sample for " << t.provider << " " << t.text);
    hit += found;
  }
  BOOST_CHECK_EQUAL(hit, kSamples.size());
}

BOOST_AUTO_TEST_CASE(each_throttle_reply_defers_with_the_limit_and_the_fix) {
  for (const auto& sample : kSamples) {
    Report rep = RunAgainst(sample.reply);
    BOOST_TEST_MESSAGE("server: " << sample.reply << "\n  status: " << rep.line << "\n  exit: " << rep.exit_code);
    BOOST_CHECK_EQUAL(rep.exit_code, kExitTempFail);
    BOOST_CHECK_EQUAL(rep.line[0], '4');
    BOOST_CHECK_MESSAGE(rep.line.find(sample.expect) != std::string::npos, rep.line);
    BOOST_CHECK_MESSAGE(rep.line.find("; fix: ") != std::string::npos, rep.line);
    BOOST_CHECK_MESSAGE(rep.line.find("(in reply to MAIL FROM command)") != std::string::npos, rep.line);
  }
}

BOOST_AUTO_TEST_CASE(an_ordinary_5xx_still_bounces) {
  // Same code and enhanced code as Gmail's daily limit, other text: a
  // verdict, not a quota.
  Report rep = RunAgainst("550 5.4.5 Message too big for the relay");
  BOOST_CHECK_EQUAL(rep.exit_code, kExitBounce);
  BOOST_CHECK_EQUAL(rep.line.find("quota"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_concurrency_limit_at_the_greeting_names_the_limit) {
  ScriptedServer s;
  s.Send("432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending").Expect("QUIT")
      .Send("221 bye");
  s.Start();
  Client c;
  AttemptResult r = c.Run(s.port());
  s.Finish();
  BOOST_REQUIRE(r.failure);
  Report rep = FailureReport(*r.failure);
  BOOST_TEST_MESSAGE("greeting status: " << rep.line);
  BOOST_CHECK_EQUAL(rep.exit_code, kExitTempFail);
  BOOST_CHECK_NE(rep.line.find("concurrency limit reached"), std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
