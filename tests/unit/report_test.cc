#include <boost/test/unit_test.hpp>

#include "delivery/report.h"

using namespace authrelay;

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(status_mapping) {
  struct Case {
    const char* dsn;
    bool soft;
    const char* want_prefix;
    int exit;
  } cases[] = {
      {"4.4.1", false, "4.4.1 ", 75}, {"5.1.1", false, "5.1.1 ", 69}, {"5.1.1", true, "4.1.1 ", 75},
      {"4.7.8", true, "4.7.8 ", 75},  {"2.0.0", false, "4.3.0 ", 75}, {"garbage", false, "4.3.0 ", 75},
      {"", false, "4.3.0 ", 75},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.dsn << " soft=" << c.soft) {
      Report r = FailureReport(Failure(c.dsn, "text"), c.soft);
      BOOST_TEST(r.line.rfind(c.want_prefix, 0) == 0u);
      BOOST_TEST(r.exit_code == c.exit);
      // The status the line leads with, for the log, without re-reading it.
      BOOST_TEST(r.dsn + " " == std::string(c.want_prefix));
    }
  }
}

BOOST_AUTO_TEST_CASE(line_is_one_short_printable_line) {
  Report r = FailureReport(Failure("4.4.2", std::string(5000, 'x') + "\nsecond\tline\x01"));
  BOOST_TEST(r.line.size() < 1000u);
  BOOST_TEST(r.line.find('\n') == std::string::npos);
  Report s = FailureReport(Failure("5.0.0", "a\r\nb\tc"));
  BOOST_TEST(s.line == "5.0.0 a??b?c");
}

BOOST_AUTO_TEST_CASE(success_carries_the_reply) {
  Report r = SuccessReport("250 2.0.0 Ok: queued as 4F2A1");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.line == "250 2.0.0 Ok: queued as 4F2A1");
  BOOST_TEST(r.dsn == "2.0.0");
}

BOOST_AUTO_TEST_CASE(one_result_from_session_to_report) {
  AttemptResult sent;
  sent.delivered = true;
  sent.final_reply = "250 2.0.0 Ok: queued as 4F2A1";
  BOOST_TEST(ReportFor(sent).line == "250 2.0.0 Ok: queued as 4F2A1");
  BOOST_TEST(ReportFor(sent).exit_code == kExitOk);

  AttemptResult refused;
  refused.failure = Failure("5.1.1", "host x[1.2.3.4] said: 550 5.1.1 no (in reply to RCPT TO command)");
  BOOST_TEST(ReportFor(refused).exit_code == kExitBounce);
  BOOST_TEST(ReportFor(refused, /*soft_bounce=*/true).line.rfind("4.1.1 host x", 0) == 0u);

  AttemptResult neither;  // our bug: defer
  BOOST_TEST(ReportFor(neither).line == "4.3.0 delivery failed");
  BOOST_TEST(ReportFor(neither).exit_code == kExitTempFail);
}

BOOST_AUTO_TEST_CASE(internal_error_defers) {
  Report r = InternalErrorReport();
  BOOST_TEST(r.line == "4.3.0 internal error in authrelay");
  BOOST_TEST(r.exit_code == kExitTempFail);
  BOOST_TEST(r.dsn == "4.3.0");
  BOOST_TEST(InternalErrorReport("what happened").line == "4.3.0 internal error in authrelay (what happened)");
}

BOOST_AUTO_TEST_SUITE_END()
