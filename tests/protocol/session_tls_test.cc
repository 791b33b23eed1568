// The real session path (Connection, OpenSSL, Cyrus SASL) against a
// scripted server on 127.0.0.1 with certificates made at test time.
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/base64.h"
#include "log/log.h"
#include "net/connection.h"
#include "protocol/scripted_server.h"
#include "protocol/test_client.h"
#include "sasl/sasl_client.h"
#include "smtp/session.h"

using namespace authrelay;
using authrelay::testing::ScriptedServer;

using namespace authrelay::testing;

BOOST_TEST_GLOBAL_FIXTURE(GlobalSetup);

BOOST_AUTO_TEST_SUITE(protocol)

BOOST_AUTO_TEST_CASE(starttls_verified_auth_plain_and_data) {
  ScriptedServer srv;
  std::string plain = Base64Encode(std::string("\0alice\0", 7) + kPassword);
  srv.Send("220 mx.test ESMTP").Expect("EHLO relay.test").Send("250-mx.test").Send("250-STARTTLS").Send("250 SIZE 100000")
      .Expect("STARTTLS").Send("220 2.0.0 Ready to start TLS").StartTls(Certs() + "/server.pem", Certs() + "/server.key")
      .Expect("EHLO relay.test").Send("250-mx.test").Send("250-AUTH PLAIN LOGIN").Send("250 8BITMIME")
      .Expect("AUTH PLAIN " + plain).Send("235 2.7.0 Authentication successful")
      .Expect("MAIL FROM:<sender@example.org>").Send("250 2.1.0 Ok")
      .Expect("RCPT TO:<rcpt@example.com>").Send("250 2.1.5 Ok")
      .Expect("DATA").Send("354 End data with <CR><LF>.<CR><LF>").ReadData().Send("250 2.0.0 Ok: queued as P1")
      .Expect("QUIT").Send("221 2.0.0 Bye");
  srv.Start();
  Client c;
  AttemptResult r = c.Run(srv.port(), true, "Subject: t\n\n.dot line\nhello\n");
  BOOST_TEST(srv.Finish() == "");
  BOOST_TEST(r.delivered);
  BOOST_TEST(r.chosen_mechanism == "PLAIN");
  BOOST_TEST(srv.data() == "Subject: t\n\n..dot line\nhello\n");
  std::string log = ReadFile(GlobalSetup::LogPath());
  BOOST_TEST(log.find("Verified TLS connection established to mx.test[127.0.0.1]") != std::string::npos);
  // The transcript was on (trace), and still holds neither secret form.
  BOOST_TEST(log.find("> mx.test[127.0.0.1]: MAIL FROM:<sender@example.org>") != std::string::npos);
  BOOST_TEST(log.find(kPassword) == std::string::npos);
  BOOST_TEST(log.find(plain) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(auth_login_multistep) {
  ScriptedServer srv;
  UpToTls(srv, "server")
      .Expect("EHLO").Send("250-mx.test").Send("250 AUTH LOGIN")
      .Expect("AUTH LOGIN").Send("334 VXNlcm5hbWU6").Expect(Base64Encode("alice"))
      .Send("334 UGFzc3dvcmQ6").Expect(Base64Encode(kPassword)).Send("235 2.7.0 ok")
      .Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData()
      .Send("250 ok").Expect("QUIT").Send("221 bye");
  srv.Start();
  Client c;
  c.policy.mechanism_filter = "login";
  AttemptResult r = c.Run(srv.port());
  BOOST_TEST(srv.Finish() == "");
  BOOST_TEST(r.delivered);
  BOOST_TEST(ReadFile(GlobalSetup::LogPath()).find(Base64Encode(kPassword)) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrong_certificate_name_defers_without_auth) {
  ScriptedServer srv;
  UpToTls(srv, "wrong").Expect("EHLO");
  srv.Start();
  Client c;
  AttemptResult r = c.Run(srv.port());
  BOOST_TEST(srv.Finish() != "");  // the client hung up instead of sending EHLO
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.5");
  BOOST_TEST(r.failure->text() == "Server certificate not verified");
  for (const auto& l : srv.received()) BOOST_TEST(l.find("AUTH") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(untrusted_ca_defers) {
  ScriptedServer srv;
  UpToTls(srv, "server").Expect("EHLO");
  srv.Start();
  Client c;
  c.tls.ca_file = Certs() + "/server.pem";  // not the issuer
  AttemptResult r = c.Run(srv.port());
  srv.Finish();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.5");
}

BOOST_AUTO_TEST_CASE(plaintext_injected_after_starttls_reply) {
  ScriptedServer srv;
  // The 220 and an injected reply in one segment: CVE-2011-0411. As smtp(8):
  // the injected line is dropped unread and TLS starts; read as the EHLO
  // reply after TLS, its 554 would end the session.
  srv.Send("220 mx").Expect("EHLO").Send("250-mx").Send("250 STARTTLS").Expect("STARTTLS")
      .SendRaw("220 go ahead\r\n554 5.7.1 injected\r\n").StartTls(Certs() + "/server.pem", Certs() + "/server.key")
      .Expect("EHLO").Send("250-mx").Send("250 AUTH PLAIN").Expect("AUTH PLAIN").Send("235 2.7.0 ok")
      .Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData()
      .Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  srv.Start();
  Client c;
  AttemptResult r = c.Run(srv.port());
  BOOST_TEST(srv.Finish() == "");
  BOOST_TEST(r.delivered);
  BOOST_TEST(!r.failure);
}

BOOST_AUTO_TEST_CASE(injected_capabilities_are_never_used) {
  ScriptedServer srv;
  // An attacker appends a whole EHLO reply offering AUTH and 8BITMIME to
  // the STARTTLS 220. The server's own EHLO reply over TLS offers neither:
  // no credential may be sent and the 8-bit body must be converted.
  srv.Send("220 mx").Expect("EHLO").Send("250-mx").Send("250 STARTTLS").Expect("STARTTLS")
      .SendRaw("220 go ahead\r\n250-mx\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
      .StartTls(Certs() + "/server.pem", Certs() + "/server.key")
      .Expect("EHLO").Send("250-mx").Send("250 PIPELINING")
      .Expect("MAIL").Expect("RCPT").Expect("DATA").Send("250 ok").Send("250 ok").Send("354 go").ReadData()
      .Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  srv.Start();
  Client c;
  AttemptResult r = c.Run(srv.port(), true, "Content-Transfer-Encoding: 8bit\n\n\xe4\n");
  BOOST_TEST(srv.Finish() == "");
  BOOST_TEST(r.delivered);
  for (const auto& l : srv.received()) {
    BOOST_TEST(l.find("AUTH") == std::string::npos, l);
    BOOST_TEST(l.find("BODY=8BITMIME") == std::string::npos, l);
  }
  BOOST_TEST(srv.data() == "Content-Transfer-Encoding: quoted-printable\n\n=E4\n");
}

BOOST_AUTO_TEST_CASE(plaintext_trickled_after_starttls_reply_fails_the_handshake) {
  ScriptedServer srv;
  // Injected bytes that arrive after the client has dropped what was
  // there: they reach the TLS handshake, which must fail (defer), never
  // be read as a reply.
  srv.Send("220 mx").Expect("EHLO").Send("250-mx").Send("250 STARTTLS").Expect("STARTTLS")
      .Send("220 go ahead").Trickle("250-mx\r\n250 AUTH PLAIN\r\n", 20, 5);
  srv.Start();
  Client c;
  AttemptResult r = c.Run(srv.port());
  srv.Finish();
  BOOST_TEST(!r.delivered);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(!r.failure->permanent());
  for (const auto& l : srv.received()) BOOST_TEST(l.find("AUTH") == std::string::npos, l);
}

BOOST_AUTO_TEST_CASE(auth_rejected_soft_and_hard) {
  for (bool soft : {true, false}) {
    ScriptedServer srv;
    UpToTls(srv, "server").Expect("EHLO").Send("250-mx").Send("250 AUTH PLAIN")
        .Expect("AUTH PLAIN").Send("535 5.7.8 Error: authentication failed: bad creds").Expect("QUIT");
    srv.Start();
    Client c;
    c.policy.auth_soft_bounce = soft;
    AttemptResult r = c.Run(srv.port());
    srv.Finish();
    BOOST_REQUIRE(r.failure);
    BOOST_TEST(r.failure->dsn() == (soft ? "4.7.8" : "5.7.8"));
    BOOST_TEST(r.failure->text() ==
               "SASL authentication failed; server mx.test[127.0.0.1] said: 535 5.7.8 Error: authentication failed: bad creds");
  }
}

BOOST_AUTO_TEST_CASE(noplaintext_leaves_no_mechanism_and_says_why) {
  ScriptedServer srv;
  UpToTls(srv, "server").Expect("EHLO").Send("250-mx").Send("250 AUTH PLAIN LOGIN")
      .Expect("QUIT");
  srv.Start();
  Client c;
  c.policy.sasl_options_verified = "noplaintext, noanonymous";  // Postfix's default
  AttemptResult r = c.Run(srv.port());
  srv.Finish();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.0");
  BOOST_TEST(r.failure->text().find("no mechanism available") != std::string::npos);
  std::string log = ReadFile(GlobalSetup::LogPath());
  BOOST_TEST(log.find("offered 'PLAIN LOGIN'") != std::string::npos);
  BOOST_TEST(log.find("without noplaintext") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(implicit_tls) {
  ScriptedServer srv;
  srv.StartTls(Certs() + "/server.pem", Certs() + "/server.key").Send("220 mx.test ESMTP").Expect("EHLO")
      .Send("250-mx.test").Send("250 AUTH PLAIN").Expect("AUTH PLAIN").Send("235 ok").Expect("MAIL").Send("250 ok")
      .Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData().Send("250 queued").Expect("QUIT")
      .Send("221 bye");
  srv.Start();
  Client c;
  c.policy.wrappermode = true;
  AttemptResult r = c.Run(srv.port());
  BOOST_TEST(srv.Finish() == "");
  BOOST_TEST(r.delivered);
}

BOOST_AUTO_TEST_CASE(plaintext_server_on_implicit_tls_port) {
  ScriptedServer srv;
  srv.Send("220 mx.test ESMTP plaintext").Expect("never");
  srv.Start();
  Client c;
  c.policy.wrappermode = true;
  AttemptResult r = c.Run(srv.port());
  srv.Finish();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.5");
  BOOST_TEST(r.try_next);
}

BOOST_AUTO_TEST_SUITE_END()
