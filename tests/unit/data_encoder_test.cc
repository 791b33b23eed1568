#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "smtp/data_encoder.h"

using authrelay::DataEncoder;

namespace {

std::string Encode(const std::string& in, std::size_t limit = 998, std::size_t chunk = 0) {
  DataEncoder e(limit);
  std::string out;
  if (chunk == 0) {
    e.Encode(in, out);
  } else {
    for (std::size_t i = 0; i < in.size(); i += chunk) e.Encode(std::string_view(in).substr(i, chunk), out);
  }
  e.Finish(out);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_encoder)

BOOST_AUTO_TEST_CASE(lf_to_crlf_and_terminator) {
  BOOST_TEST(Encode("a\nb\n") == "a\r\nb\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(missing_final_newline_is_added) { BOOST_TEST(Encode("a\nlast") == "a\r\nlast\r\n.\r\n"); }

BOOST_AUTO_TEST_CASE(empty_message) { BOOST_TEST(Encode("") == ".\r\n"); }

BOOST_AUTO_TEST_CASE(every_leading_dot_is_stuffed) {
  BOOST_TEST(Encode(".\n..\n.x\nx.\n") == "..\r\n...\r\n..x\r\nx.\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(crlf_input_is_not_doubled) { BOOST_TEST(Encode("a\r\nb\r\n") == "a\r\nb\r\n.\r\n"); }

BOOST_AUTO_TEST_CASE(bare_cr_never_reaches_the_wire) {
  // "\r.\r" would end the message on some servers (SMTP smuggling).
  std::string out = Encode("a\r.\rb\n");
  BOOST_TEST(out == "a\r\n..\r\nb\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(long_lines_are_broken_like_smtp8) {
  std::string line(2000, 'x');
  std::string want = line.substr(0, 998) + "\r\n " + line.substr(998, 997) + "\r\n " + line.substr(1995) + "\r\n.\r\n";
  BOOST_TEST(Encode(line + "\n") == want);
  // Exactly the limit: no break.
  BOOST_TEST(Encode(std::string(998, 'y') + "\n") == std::string(998, 'y') + "\r\n.\r\n");
  // Limit 0: no limit.
  BOOST_TEST(Encode(line + "\n", 0) == line + "\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(dot_after_break_is_not_stuffed_because_of_space) {
  std::string line(998, 'a');
  BOOST_TEST(Encode(line + ".b\n") == line + "\r\n .b\r\n.\r\n");
}

BOOST_DATA_TEST_CASE(chunking_does_not_change_output, boost::unit_test::data::make({1, 2, 3, 7, 64, 4096}), chunk) {
  std::string in = ".a\r\n\n.\r\rx" + std::string(1500, 'z') + "\n\xc3\xa9\xe3\x81\x82\n.";
  BOOST_TEST(Encode(in, 998, static_cast<std::size_t>(chunk)) == Encode(in));
}

BOOST_AUTO_TEST_CASE(eight_bit_is_passed_through_and_noticed) {
  DataEncoder e;
  std::string out;
  e.Encode("gr\xc3\xbc\xc3\x9f" "e\n", out);
  BOOST_TEST(e.saw_8bit());
  BOOST_TEST(out == "gr\xc3\xbc\xc3\x9f" "e\r\n");
}

BOOST_AUTO_TEST_CASE(no_bare_lf_or_cr_in_any_output) {
  std::string in;
  for (int i = 0; i < 3000; ++i) in.push_back("\n\r.a"[i * 7 % 4]);
  std::string out = Encode(in, 50, 13);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r') BOOST_REQUIRE(i + 1 < out.size() && out[i + 1] == '\n');
    if (out[i] == '\n') BOOST_REQUIRE(i > 0 && out[i - 1] == '\r');
  }
  BOOST_TEST(out.find("\r\n.\r\n") == out.size() - 5);  // only the terminator is a lone dot line
}

BOOST_AUTO_TEST_CASE(line_ending_where_a_record_and_a_break_meet) {
  // smtp(8) (Postfix 3.7, smtp_line_length_limit = 998) sent a line of
  // 2048 * 757 bytes (the first length where a 2048-byte queue record ends
  // exactly at a 998-column break) followed by a line holding one SPACE.
  std::string line(2048 * 757, 'L');
  std::string out = Encode(line + "\nend\n", 998, 4096);
  const std::string tail = "L\r\n \r\nend\r\n.\r\n";
  BOOST_TEST(out.substr(out.size() - tail.size()) == tail);
  // One byte shorter or longer: no such line.
  for (std::size_t n : {line.size() - 1, line.size() + 1}) {
    out = Encode(std::string(n, 'L') + "\nend\n");
    BOOST_TEST(out.find("\r\n \r\n") == std::string::npos, n);
  }
  // A line of 2048 bytes is not at a break: nothing extra.
  BOOST_TEST(Encode(std::string(2048, 'L') + "\n").find("\r\n \r\n") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
