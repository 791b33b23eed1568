#include <boost/test/unit_test.hpp>

#include "smtp/reply.h"

using authrelay::Reply;
using authrelay::ReplyParser;

namespace {

// Feeds lines; returns the final state and the reply (if done).
ReplyParser::State FeedAll(const std::vector<std::string>& lines, Reply* out, std::string* err = nullptr) {
  ReplyParser p;
  ReplyParser::State st = ReplyParser::State::kMore;
  for (const auto& l : lines) {
    st = p.Feed(l);
    if (st != ReplyParser::State::kMore) break;
  }
  if (st == ReplyParser::State::kDone) *out = p.Take();
  if (err) *err = p.error();
  return st;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reply)

BOOST_AUTO_TEST_CASE(single_line_with_enhanced_code) {
  Reply r;
  BOOST_REQUIRE(FeedAll({"535 5.7.8 Error: authentication failed"}, &r) == ReplyParser::State::kDone);
  BOOST_TEST(r.code == 535);
  BOOST_TEST(r.dsn == "5.7.8");
  BOOST_TEST(r.Text() == "535 5.7.8 Error: authentication failed");
}

BOOST_AUTO_TEST_CASE(multiline_joined_like_smtp8) {
  Reply r;
  BOOST_REQUIRE(FeedAll({"550-5.1.1 <bad@x>: Recipient address rejected:", "550 5.1.1 User unknown"}, &r) ==
                ReplyParser::State::kDone);
  BOOST_TEST(r.Text() == "550-5.1.1 <bad@x>: Recipient address rejected: 550 5.1.1 User unknown");
  BOOST_TEST(r.dsn == "5.1.1");
}

BOOST_AUTO_TEST_CASE(enhanced_code_of_wrong_class_is_ignored) {
  Reply r;
  BOOST_REQUIRE(FeedAll({"450 5.1.1 mailbox busy"}, &r) == ReplyParser::State::kDone);
  BOOST_TEST(r.dsn == "4.0.0");
  BOOST_REQUIRE(FeedAll({"550 No such user"}, &r) == ReplyParser::State::kDone);
  BOOST_TEST(r.dsn == "5.0.0");
  BOOST_REQUIRE(FeedAll({"250"}, &r) == ReplyParser::State::kDone);
  BOOST_TEST(r.dsn == "2.0.0");
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_errors) {
  Reply r;
  std::string err;
  for (std::string bad : {"", "25", "abc def", "250x", "999 nope", "100 too low", "2500 x"}) {
    BOOST_TEST_INFO("line: " << bad);
    BOOST_TEST((FeedAll({bad}, &r, &err) == ReplyParser::State::kError));
  }
}

BOOST_AUTO_TEST_CASE(mismatched_continuation_code_is_error) {
  Reply r;
  std::string err;
  BOOST_TEST((FeedAll({"250-first", "550 second"}, &r, &err) == ReplyParser::State::kError));
  BOOST_TEST(err.find("mismatched") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(control_bytes_are_sanitised) {
  Reply r;
  BOOST_REQUIRE(FeedAll({std::string("550 bad\0byte\x1b[31m", 17)}, &r) == ReplyParser::State::kDone);
  BOOST_TEST(r.Text() == "550 bad?byte?[31m");
}

BOOST_AUTO_TEST_CASE(endless_continuation_is_bounded) {
  ReplyParser p;
  ReplyParser::State st = ReplyParser::State::kMore;
  std::size_t n = 0;
  while (st == ReplyParser::State::kMore && n < 100000) {
    st = p.Feed("250-" + std::string(100, 'x'));
    ++n;
  }
  BOOST_TEST((st == ReplyParser::State::kError));
  BOOST_TEST(n == ReplyParser::kMaxLines + 1);
}

BOOST_AUTO_TEST_CASE(stored_text_is_capped) {
  ReplyParser p;
  for (int i = 0; i < 500; ++i) BOOST_REQUIRE(p.Feed("250-" + std::string(200, 'y')) == ReplyParser::State::kMore);
  BOOST_REQUIRE(p.Feed("250 last") == ReplyParser::State::kDone);
  Reply r = p.Take();
  BOOST_TEST(r.Text().size() < ReplyParser::kMaxStoredBytes + 2000);
  BOOST_TEST(r.lines.back() == "250 last");
}

BOOST_AUTO_TEST_CASE(dsn_validation_matches_postfix) {
  using authrelay::IsValidDsn;
  BOOST_TEST(IsValidDsn("4.7.8"));
  BOOST_TEST(IsValidDsn("5.1.1 user unknown"));
  BOOST_TEST(IsValidDsn("2.0.0"));
  BOOST_TEST(IsValidDsn("4.123.456"));
  BOOST_TEST(!IsValidDsn("4.1234.5"));
  BOOST_TEST(!IsValidDsn("3.0.0"));
  BOOST_TEST(!IsValidDsn(" 4.0.0"));
  BOOST_TEST(!IsValidDsn("4.0.0x"));
  BOOST_TEST(!IsValidDsn("4..0"));
}

BOOST_AUTO_TEST_SUITE_END()
