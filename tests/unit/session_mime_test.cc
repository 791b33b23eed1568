// The session's use of the MIME downgrade: when it converts, what MAIL FROM
// then carries, and how a refused message ends the transaction.
#include <boost/test/unit_test.hpp>

#include "fakes/fake_transport.h"
#include "smtp/session.h"

using namespace authrelay;
using authrelay::testing::FakeTransport;
using authrelay::testing::StringSource;

namespace {

const std::string k8bit = "Content-Transfer-Encoding: 8bit\n\nGr\xfc\xdf" "e\n";

struct MimeFixture {
  FakeTransport t;
  SessionPolicy policy;
  Envelope env{"s@example.org", {"r@example.com"}, 42, {}};
  MimeFixture() { policy.helo_name = "relay.example"; }
  AttemptResult Run(const char* ehlo_last, const std::string& message = k8bit) {
    for (const char* l : {"220 mx ESMTP", "250-mx", "250-SIZE 1000000"}) t.replies.emplace_back(l);
    t.replies.emplace_back(ehlo_last);
    for (const char* l : {"250 ok", "250 ok", "354 go", "250 2.0.0 queued", "221 bye"}) t.replies.emplace_back(l);
    Session s(t, "mx.example[192.0.2.1]", 25, policy);
    StringSource src(message);
    return s.Run(env, src, Deadline::AfterSeconds(10));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(session_mime, MimeFixture)

BOOST_AUTO_TEST_CASE(server_without_8bitmime_gets_quoted_printable_and_no_size) {
  BOOST_TEST(Run("250 HELP").delivered);
  BOOST_TEST(t.written ==
             "EHLO relay.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n.\r\nQUIT\r\n");
}

BOOST_AUTO_TEST_CASE(disabled_conversion_sends_raw_with_size) {
  policy.mime.output_conversion = false;
  BOOST_TEST(Run("250 HELP").delivered);
  BOOST_TEST(t.written ==
             "EHLO relay.example\r\nMAIL FROM:<s@example.org> SIZE=42\r\nRCPT TO:<r@example.com>\r\nDATA\r\n"
             "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdf" "e\r\n.\r\nQUIT\r\n");
}

BOOST_AUTO_TEST_CASE(server_with_8bitmime_gets_raw_body) {
  BOOST_TEST(Run("250 8BITMIME").delivered);
  BOOST_TEST(t.written ==
             "EHLO relay.example\r\nMAIL FROM:<s@example.org> SIZE=42 BODY=8BITMIME\r\nRCPT TO:<r@example.com>\r\n"
             "DATA\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdf" "e\r\n.\r\nQUIT\r\n");
}

BOOST_AUTO_TEST_CASE(too_deep_nesting_drops_the_connection_before_the_dot) {
  policy.mime.nesting_limit = 1;
  std::string deep;  // smtp(8) refuses the (limit + 3)rd nested multipart
  for (int i = 0; i < 4; ++i) deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
                                      std::to_string(i) + "\n";
  AttemptResult r = Run("250 HELP", deep + "\nbody\n");
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "5.6.0");
  BOOST_TEST(r.failure->text().find("MIME nesting exceeds safety limit") == 0u);
  BOOST_TEST(r.failure->fix().find("mime_nesting_limit") != std::string::npos);  // says how to get it out
  BOOST_TEST(!r.try_next);
  BOOST_TEST(t.written.find("\r\n.\r\n") == std::string::npos);  // no end of data
  BOOST_TEST(t.written.find("QUIT") == std::string::npos);        // nothing more on that connection
}

BOOST_AUTO_TEST_SUITE_END()
