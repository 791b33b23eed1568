// Hostile and broken servers: every case ends in the right class and code,
// within its deadline, with no AUTH over an unprotected connection. Each
// row of tests/README.md's table points at one of these.
#include <boost/test/unit_test.hpp>
#include <chrono>

#include "protocol/scripted_server.h"
#include "protocol/test_client.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

// A client with short stage timeouts so stalls end in about a second.
struct FastClient : Client {
  FastClient() {
    for (long* t : {&policy.helo_timeout, &policy.starttls_timeout, &policy.mail_timeout, &policy.rcpt_timeout,
                    &policy.data_init_timeout, &policy.data_xfer_timeout, &policy.data_done_timeout,
                    &policy.quit_timeout}) {
      *t = 1;
    }
    tls.level = TlsLevel::kMay;
  }
};

// The plaintext part of a session up to a given stage.
ScriptedServer& Plain(ScriptedServer& s) {
  return s.Send("220 mx.test ESMTP").Expect("EHLO").Send("250 mx.test");
}

AttemptResult RunPlain(ScriptedServer& srv, bool with_creds = false) {
  srv.Start();
  FastClient c;
  AttemptResult r = c.Run(srv.port(), with_creds);
  srv.Finish();
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_server)

BOOST_AUTO_TEST_CASE(megabyte_reply_line_is_cut_not_fatal) {
  ScriptedServer srv;
  srv.Send("220 " + std::string(1 << 20, 'x')).Expect("EHLO").Send("250 mx").Expect("MAIL").Send("250 ok")
      .Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData().Send("250 ok").Expect("QUIT");
  AttemptResult r = RunPlain(srv);
  BOOST_TEST(r.delivered);
}

BOOST_AUTO_TEST_CASE(endless_continuation_lines) {
  ScriptedServer srv;
  std::string flood;
  for (int i = 0; i < 3000; ++i) flood += "250-" + std::to_string(i) + "\r\n";
  srv.Send("220 mx").Expect("EHLO").SendRaw(flood);
  AttemptResult r = RunPlain(srv);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.5.0");
  BOOST_TEST(r.try_next);
}

BOOST_AUTO_TEST_CASE(nul_and_control_bytes_in_reply_are_sanitised) {
  ScriptedServer srv;
  Plain(srv).Expect("MAIL").Send("250 ok").Expect("RCPT").SendRaw(std::string("550 5.1.1 bad\0user\x1b[2J\x07\r\n", 25))
      .Expect("QUIT");
  AttemptResult r = RunPlain(srv);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "5.1.1");
  BOOST_TEST(r.failure->text() ==
             "host mx.test[127.0.0.1] said: 550 5.1.1 bad?user?[2J? (in reply to RCPT TO command)");
}

BOOST_AUTO_TEST_CASE(mismatched_codes_on_continuation) {
  ScriptedServer srv;
  srv.Send("220 mx").Expect("EHLO").Send("250-mx").Send("550 surprise");
  AttemptResult r = RunPlain(srv);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.5.0");
}

BOOST_AUTO_TEST_CASE(garbage_instead_of_greeting) {
  ScriptedServer srv;
  srv.SendRaw("SSH-2.0-OpenSSH_9.2\r\n");
  AttemptResult r = RunPlain(srv);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.5.0");
  BOOST_TEST(r.try_next);
}

BOOST_AUTO_TEST_CASE(stall_at_each_stage_times_out_as_smtp8_says) {
  struct Stage {
    std::function<void(ScriptedServer&)> script;
    std::string words;
  } stages[] = {
      {[](ScriptedServer& s) { s.Expect("never"); }, "timed out while receiving the initial server greeting"},
      {[](ScriptedServer& s) { s.Send("220 mx").Expect("EHLO").Expect("never"); }, "timed out while performing the EHLO handshake"},
      {[](ScriptedServer& s) { Plain(s).Expect("MAIL").Expect("never"); }, "timed out while sending MAIL FROM"},
      {[](ScriptedServer& s) { Plain(s).Expect("MAIL").Send("250 ok").Expect("RCPT").Expect("never"); },
       "timed out while sending RCPT TO"},
      {[](ScriptedServer& s) {
         Plain(s).Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok").Expect("DATA").Expect("never");
       },
       "timed out while sending DATA command"},
      {[](ScriptedServer& s) {
         Plain(s).Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData()
             .Expect("never");
       },
       "timed out while sending end of data -- message may be sent more than once"},
  };
  for (auto& st : stages) {
    BOOST_TEST_CONTEXT(st.words) {
      ScriptedServer srv;
      st.script(srv);
      auto start = std::chrono::steady_clock::now();
      AttemptResult r = RunPlain(srv);
      auto took = std::chrono::steady_clock::now() - start;
      BOOST_REQUIRE(r.failure);
      BOOST_TEST(r.failure->dsn() == "4.4.2");
      BOOST_TEST(r.failure->text() == "conversation with mx.test[127.0.0.1] " + st.words);
      BOOST_TEST(took < std::chrono::seconds(4));
    }
  }
}

BOOST_AUTO_TEST_CASE(connection_dropped_at_each_stage) {
  struct Stage {
    std::function<void(ScriptedServer&)> script;
    std::string words;
    bool try_next;
  } stages[] = {
      {[](ScriptedServer& s) { s.Close(); }, "while receiving the initial server greeting", true},
      {[](ScriptedServer& s) { s.Send("220 mx").Expect("EHLO").Close(); }, "while performing the EHLO handshake", true},
      {[](ScriptedServer& s) { Plain(s).Expect("MAIL").Close(); }, "while sending MAIL FROM", false},
      {[](ScriptedServer& s) { Plain(s).Expect("MAIL").Send("250 ok").Expect("RCPT").Close(); }, "while sending RCPT TO",
       false},
      {[](ScriptedServer& s) {
         Plain(s).Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData()
             .Close();
       },
       "while sending end of data -- message may be sent more than once", false},
  };
  for (auto& st : stages) {
    BOOST_TEST_CONTEXT(st.words) {
      ScriptedServer srv;
      st.script(srv);
      AttemptResult r = RunPlain(srv);
      BOOST_REQUIRE(r.failure);
      BOOST_TEST(r.failure->dsn() == "4.4.2");
      BOOST_TEST(r.failure->text() == "lost connection with mx.test[127.0.0.1] " + st.words);
      BOOST_TEST(r.try_next == st.try_next);
    }
  }
}

BOOST_AUTO_TEST_CASE(reply_421_anywhere_defers) {
  std::function<void(ScriptedServer&)> scripts[] = {
      [](ScriptedServer& s) { s.Send("421 4.3.2 shutting down"); },
      [](ScriptedServer& s) { s.Send("220 mx").Expect("EHLO").Send("421 4.3.2 shutting down"); },
      [](ScriptedServer& s) { Plain(s).Expect("MAIL").Send("421 4.3.2 shutting down"); },
      [](ScriptedServer& s) { Plain(s).Expect("MAIL").Send("250 ok").Expect("RCPT").Send("421 4.3.2 shutting down"); },
      [](ScriptedServer& s) {
        Plain(s).Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData()
            .Send("421 4.3.2 shutting down");
      },
  };
  for (auto& script : scripts) {
    ScriptedServer srv;
    script(srv);
    AttemptResult r = RunPlain(srv);
    BOOST_REQUIRE(r.failure);
    BOOST_TEST(r.failure->dsn() == "4.3.2");
    BOOST_TEST(!r.delivered);
  }
}

BOOST_AUTO_TEST_CASE(starttls_required_but_not_offered_sends_no_auth) {
  ScriptedServer srv;
  srv.Send("220 mx").Expect("EHLO").Send("250-mx").Send("250 AUTH PLAIN").Expect("QUIT");
  srv.Start();
  FastClient c;
  c.tls.level = TlsLevel::kSecure;
  AttemptResult r = c.Run(srv.port(), true);
  srv.Finish();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.4");
  for (const auto& l : srv.received()) BOOST_TEST(l.find("AUTH") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(starttls_refused_when_required) {
  ScriptedServer srv;
  srv.Send("220 mx").Expect("EHLO").Send("250-mx").Send("250 STARTTLS").Expect("STARTTLS")
      .Send("454 4.7.0 TLS not available due to local problem").Expect("QUIT");
  srv.Start();
  FastClient c;
  c.tls.level = TlsLevel::kEncrypt;
  AttemptResult r = c.Run(srv.port(), true);
  srv.Finish();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.0");
  BOOST_TEST(r.failure->text().find("refused to start TLS") != std::string::npos);
  for (const auto& l : srv.received()) BOOST_TEST(l.find("AUTH") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(tls_server_on_starttls_port) {
  ScriptedServer srv;
  srv.StartTls(Certs() + "/server.pem", Certs() + "/server.key");
  AttemptResult r = RunPlain(srv);
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.4.2");
  BOOST_TEST(r.try_next);
}

BOOST_AUTO_TEST_CASE(bad_certificates_defer_before_auth) {
  for (std::string cert : {"expired", "notyet", "selfsigned", "wrong"}) {
    BOOST_TEST_CONTEXT(cert) {
      ScriptedServer srv;
      UpToTls(srv, cert).Expect("EHLO").Send("250-mx")
          .Send("250 AUTH PLAIN").Expect("AUTH");
      srv.Start();
      FastClient c;
      c.tls.level = TlsLevel::kSecure;
      AttemptResult r = c.Run(srv.port(), true);
      srv.Finish();
      BOOST_REQUIRE(r.failure);
      BOOST_TEST(r.failure->dsn() == "4.7.5");
      BOOST_TEST(r.failure->text() == "Server certificate not verified");
      for (const auto& l : srv.received()) BOOST_TEST(l.find("AUTH") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(encrypt_level_accepts_unverified_certificate) {
  ScriptedServer srv;
  UpToTls(srv, "selfsigned").Expect("EHLO").Send("250 mx").Expect("MAIL")
      .Send("250 ok").Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData().Send("250 ok");
  srv.Start();
  FastClient c;
  c.tls.level = TlsLevel::kEncrypt;
  AttemptResult r = c.Run(srv.port(), false);
  srv.Finish();
  BOOST_TEST(r.delivered);
}

BOOST_AUTO_TEST_SUITE_END()
