// The 8-bit -> quoted-printable downgrade. Expected outputs are what
// Postfix 3.7's smtp(8) sent for the same input to a server without
// 8BITMIME (tests/mime/mime_oracle.py compares the two end to end).
#include <boost/test/unit_test.hpp>

#include <string>

#include "smtp/mime_downgrade.h"

using authrelay::BodyEncoder;
using authrelay::MimeDowngrader;
using authrelay::MimeOptions;

namespace {

// Downgrade only (LF in, LF out); chunk 0: all at once.
std::string Down(const std::string& in, std::size_t chunk = 0, MimeOptions options = {}) {
  MimeDowngrader d(options);
  std::string out;
  if (chunk == 0) {
    d.Feed(in, out);
  } else {
    for (std::size_t i = 0; i < in.size(); i += chunk) d.Feed(std::string_view(in).substr(i, chunk), out);
  }
  d.Finish(out);
  return out;
}

// What follows the first empty line.
std::string BodyOf(const std::string& message) { return message.substr(message.find("\n\n") + 2); }

const std::string k8bitText =
    "MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(mime_downgrade)

BOOST_AUTO_TEST_CASE(single_part_becomes_quoted_printable) {
  BOOST_TEST(Down(k8bitText + "Gr\xfc\xdf" "e\n= x\n") ==
             "MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
             "Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n=3D x\n");
}

BOOST_AUTO_TEST_CASE(new_encoding_header_goes_last) {
  BOOST_TEST(Down("Content-Transfer-Encoding: 8bit\nSubject: s\n\nx\n") ==
             "Subject: s\nContent-Transfer-Encoding: quoted-printable\n\nx\n");
}

BOOST_AUTO_TEST_CASE(trailing_white_space_is_encoded) {
  BOOST_TEST(BodyOf(Down(k8bitText + "space \ntab\t\nmid dle\n")) ==
             "space=20\ntab=09\nmid dle\n");
}

BOOST_AUTO_TEST_CASE(controls_and_del_are_encoded_tab_is_not) {
  BOOST_TEST(BodyOf(Down(k8bitText + "a\x07" "b\x1b" "c\x7f" "d\te\n")) ==
             "a=07b=1Bc=7Fd\te\n");
}

BOOST_AUTO_TEST_CASE(soft_break_after_72_characters) {
  std::string body = BodyOf(Down(k8bitText + std::string(73, 'a') + "\n" + std::string(76, 'b') + "\n" +
                                 std::string(72, 'c') + "\xe9\n"));
  BOOST_TEST(body == std::string(73, 'a') + "\n" + std::string(73, 'b') + "=\nbbb\n" + std::string(72, 'c') +
                         "=E9\n");
}

BOOST_AUTO_TEST_CASE(long_lines_are_broken_in_any_chunking) {
  std::string line;
  for (int i = 0; i < 5; ++i) line += std::string(999, 'x') + "\xfc";
  std::string whole = Down(k8bitText + line + "\n");
  for (std::size_t chunk : {1, 7, 2048, 2049, 4096}) BOOST_TEST(Down(k8bitText + line + "\n", chunk) == whole);
  std::size_t start = whole.find("\n\n") + 2, longest = 0;
  while (start < whole.size()) {
    std::size_t end = whole.find('\n', start);
    longest = std::max(longest, end - start);
    start = end + 1;
  }
  BOOST_TEST(longest <= 76u);
}

BOOST_AUTO_TEST_CASE(seven_bit_parts_pass_as_they_are) {
  std::string in =
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\nR3L=\n"
      "--b\nContent-Transfer-Encoding: quoted-printable\n\nGr=FC =\nsoft\n--b\nContent-Type: text/plain\n\n"
      "no header, 8 bits \xe4 \n--b--\n";
  BOOST_TEST(Down(in) == in);
}

BOOST_AUTO_TEST_CASE(not_mime_is_sent_as_it_is) {
  std::string in = "Subject: \xe4\n\nplain \xe4 = \n";
  BOOST_TEST(Down(in) == in);
}

BOOST_AUTO_TEST_CASE(multipart_nested_parts_each_converted) {
  std::string in =
      "Content-Type: multipart/mixed; boundary=\"o=_b\"\nContent-Transfer-Encoding: 8bit\n\n"
      "pre \xe4\n--o=_b\nContent-Transfer-Encoding: 8bit\n\none \xe4\n"
      "--o=_b\nContent-Type: multipart/alternative; boundary=in\n\n--in\nContent-Transfer-Encoding: 8BIT\n\n"
      "two \xe4\n--in--\nepi \xe4\n--o=_b--\nend \xe4\n";
  BOOST_TEST(Down(in) ==
             "Content-Type: multipart/mixed; boundary=\"o=_b\"\nContent-Transfer-Encoding: 7bit\n\n"
             "pre \xe4\n--o=_b\nContent-Transfer-Encoding: quoted-printable\n\none =E4\n"
             "--o=_b\nContent-Type: multipart/alternative; boundary=in\n\n--in\n"
             "Content-Transfer-Encoding: quoted-printable\n\ntwo =E4\n--in--\nepi \xe4\n--o=_b--\nend \xe4\n");
}

BOOST_AUTO_TEST_CASE(message_rfc822_headers_are_parsed) {
  std::string in =
      "Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\n"
      "Subject: inner \xe4\nContent-Transfer-Encoding: 8bit\n\nbody \xe4\n";
  BOOST_TEST(Down(in) ==
             "Content-Type: message/rfc822\nContent-Transfer-Encoding: 7bit\n\n"
             "Subject: inner \xe4\nContent-Transfer-Encoding: quoted-printable\n\nbody =E4\n");
}

// Postfix compares only the boundary's length: "--abc" is a delimiter for
// boundary "ab", whatever follows it. A delimiter where a part's headers
// were expected ends them (no empty line is put in there).
BOOST_AUTO_TEST_CASE(boundary_is_a_prefix_match) {
  std::string in =
      "Content-Type: multipart/mixed (c); boundary=ab; x=y\n\n--abc junk\n--ab junk\n"
      "Content-Transfer-Encoding:\n 8bit\n\n\xe4\n--abc\n--ab--\n\xe4\n";
  BOOST_TEST(Down(in) ==
             "Content-Type: multipart/mixed (c); boundary=ab; x=y\n\n--abc junk\n--ab junk\n"
             "Content-Transfer-Encoding: quoted-printable\n\n=E4\n--abc\n--ab--\n\xe4\n");
}

BOOST_AUTO_TEST_CASE(outer_delimiter_closes_inner_parts) {
  std::string in =
      "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n"
      "--i\nContent-Transfer-Encoding: 8bit\n\n\xe4\n--o\nContent-Transfer-Encoding: 8bit\n\n\xe4\n--i\n\xe4\n--o--\n";
  BOOST_TEST(Down(in) ==
             "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n"
             "--i\nContent-Transfer-Encoding: quoted-printable\n\n=E4\n--o\n"
             "Content-Transfer-Encoding: quoted-printable\n\n=E4\n--i\n=E4\n--o--\n");
}

BOOST_AUTO_TEST_CASE(header_longer_than_a_piece) {
  std::string content_type = "Content-Type: multipart/mixed; x=\"" + std::string(3000, 'y') + "\"; boundary=lh";
  std::string in = content_type + "\n\n--lh\nContent-Transfer-Encoding: 8bit\n\n\xe4\n--lh--\n";
  std::string want = content_type + "\n\n--lh\nContent-Transfer-Encoding: quoted-printable\n\n=E4\n--lh--\n";
  BOOST_TEST(Down(in) == want);
  BOOST_TEST(Down(in, 1000) == want);
}

// Found by the oracle's generated messages: Postfix keeps the type it had
// when Content-Type names one it does not know, so a digest part labelled
// image/x-y is still message/rfc822 (7bit, headers of its own).
BOOST_AUTO_TEST_CASE(unknown_type_keeps_the_default) {
  std::string in =
      "Content-Type: multipart/digest; boundary=d\n\n--d\nContent-Type: image/x-y\n"
      "Content-Transfer-Encoding: binary\n\n\xe4\n--d--\n";
  BOOST_TEST(Down(in) ==
             "Content-Type: multipart/digest; boundary=d\n\n--d\nContent-Type: image/x-y\n"
             "Content-Transfer-Encoding: 7bit\n\n\xe4\n--d--\n");
  BOOST_TEST(Down("Content-Type: image/png\nContent-Transfer-Encoding: 8bit\n\n\xe4\n") ==
             "Content-Type: image/png\nContent-Transfer-Encoding: quoted-printable\n\n=E4\n");
}

BOOST_AUTO_TEST_CASE(obsolete_header_colon_is_normalized) {
  BOOST_TEST(Down("Content-Transfer-Encoding : 8bit\nX-A : b\n\n\xe4\n") ==
             "X-A: b\nContent-Transfer-Encoding: quoted-printable\n\n=E4\n");
}

BOOST_AUTO_TEST_CASE(headers_without_empty_line_get_one) {
  BOOST_TEST(Down("Content-Transfer-Encoding: 8bit\n\xe4 body\n") ==
             "Content-Transfer-Encoding: quoted-printable\n\n=E4 body\n");
}

BOOST_AUTO_TEST_CASE(headers_only_message) {
  BOOST_TEST(Down("Subject: s\nContent-Transfer-Encoding: 8bit\n") ==
             "Subject: s\nContent-Transfer-Encoding: quoted-printable\n");
  BOOST_TEST(Down("Subject: s\nContent-Transfer-Encoding: 8bit") ==
             "Subject: s\nContent-Transfer-Encoding: quoted-printable\n");
}

BOOST_AUTO_TEST_CASE(crlf_input_is_one_line_end_bare_cr_is_data) {
  BOOST_TEST(Down("Content-Transfer-Encoding: 8bit\r\n\r\na\rb\xe4\r\n") ==
             "Content-Transfer-Encoding: quoted-printable\n\na=0Db=E4\n");
}

BOOST_AUTO_TEST_CASE(nesting_limit_refuses) {
  // smtp(8) (Postfix 3.7) with mime_nesting_limit = 3 sent 5 nested
  // multiparts and refused 6; with 100, sent 102 and refused 103.
  MimeOptions o;
  o.nesting_limit = 3;
  auto nested = [](int levels) {
    std::string in;
    for (int i = 0; i < levels; ++i) {
      in += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
    }
    return in + "\nx\n";
  };
  for (int levels : {5, 6}) {
    MimeDowngrader d(o);
    std::string out;
    d.Feed(nested(levels), out);
    d.Finish(out);
    BOOST_TEST(d.nesting_exceeded() == (levels == 6), levels << " levels");
  }
  for (int levels : {102, 103}) {
    MimeDowngrader d(MimeOptions{});
    std::string out;
    d.Feed(nested(levels), out);
    d.Finish(out);
    BOOST_TEST(d.nesting_exceeded() == (levels == 103), levels << " levels");
  }
}

BOOST_AUTO_TEST_CASE(message_global_is_a_leaf) {
  // As smtp(8): message/global is quoted-printable, not "7bit" over a
  // quoted-printable body; its inner headers are body text.
  BOOST_TEST(Down("Content-Type: MESSAGE/Global\nContent-Transfer-Encoding: 8bit\n\nSubject: \xe4\n"
                  "Content-Transfer-Encoding: 8bit\n\n\xe4\n") ==
             "Content-Type: MESSAGE/Global\nContent-Transfer-Encoding: quoted-printable\n\nSubject: =E4\n"
             "Content-Transfer-Encoding: 8bit\n\n=E4\n");
  // Other message/* subtypes keep the "7bit" label, as smtp(8) writes it.
  BOOST_TEST(Down("Content-Type: message/global-headers\nContent-Transfer-Encoding: 8bit\n\n\xe4\n") ==
             "Content-Type: message/global-headers\nContent-Transfer-Encoding: 7bit\n\n=E4\n");
}

BOOST_AUTO_TEST_CASE(disabled_conversion_changes_nothing) {
  MimeOptions off;
  off.output_conversion = false;
  std::string in = k8bitText + "\xe4 =\n";
  BOOST_TEST(Down(in, 0, off) == in);
}

BOOST_AUTO_TEST_CASE(body_encoder_dot_stuffs_converted_lines) {
  MimeOptions o;
  BodyEncoder e(998, &o);
  std::string out;
  e.Encode("Content-Transfer-Encoding: 8bit\n\n.\xe4\n.\n", out);
  e.Finish(out);
  BOOST_TEST(out == "Content-Transfer-Encoding: quoted-printable\r\n\r\n..=E4\r\n..\r\n.\r\n");
  BodyEncoder raw(998, nullptr);
  out.clear();
  raw.Encode("Content-Transfer-Encoding: 8bit\n\n.\xe4\n", out);
  raw.Finish(out);
  BOOST_TEST(out == "Content-Transfer-Encoding: 8bit\r\n\r\n..\xe4\r\n.\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
