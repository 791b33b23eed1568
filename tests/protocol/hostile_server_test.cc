// Hostile and broken servers: every case ends in the right class and code,
// within its deadline, with no AUTH over an unprotected connection. Each
// row of tests/README.md's table points at one of these.
#include <boost/test/unit_test.hpp>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>

#include "core/base64.h"
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

// The deadline holds whatever the server sends: with bytes waiting (a
// flood always has some), a read or write after the deadline still times
// out instead of going on.
BOOST_AUTO_TEST_CASE(deadline_checked_even_when_data_is_waiting) {
  int sv[2];
  BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  std::string waiting = "250 ok\r\n" + std::string(100000, 'x');
  BOOST_REQUIRE(write(sv[1], waiting.data(), 60000) > 0);  // as much as the socket takes
  Connection conn{UniqueFd(sv[0]), nullptr};
  Deadline past = Deadline::After(std::chrono::milliseconds(0));
  std::string line;
  BOOST_TEST((conn.ReadLine(line, 2048, past) == IoStatus::kTimeout));
  BOOST_TEST((conn.Write("QUIT\r\n", past) == IoStatus::kTimeout));
  close(sv[1]);
}

// Data that keeps coming must not keep us past the deadline: a reply line
// that never ends, at the greeting, after the final dot and inside TLS.
BOOST_AUTO_TEST_CASE(flood_without_line_end_times_out_at_the_deadline) {
  // Stage timeouts are 1 s; the TLS case also pays for a handshake (slow
  // under the sanitizers on a shared CPU).
  struct Case {
    std::function<void(ScriptedServer&)> script;
    std::string words;
    double max_seconds;
  } cases[] = {
      {[](ScriptedServer& s) { s.SendRaw("220 ").Flood("x"); }, "while receiving the initial server greeting", 1.6},
      {[](ScriptedServer& s) { s.Send("220 mx").Expect("EHLO").SendRaw("250-").Flood("y"); },
       "while performing the EHLO handshake", 1.6},
      {[](ScriptedServer& s) {
         Plain(s).Expect("MAIL").Send("250 ok").Expect("RCPT").Send("250 ok").Expect("DATA").Send("354 go").ReadData()
             .SendRaw("250 ").Flood("z");
       },
       "while sending end of data -- message may be sent more than once", 1.6},
      {[](ScriptedServer& s) { UpToTls(s, "server").Expect("EHLO").SendRaw("250 ").Flood("t"); },
       "while performing the EHLO handshake", 2.5},
  };
  // Client and server on one CPU: the flood then always has bytes waiting
  // when we read (with two CPUs the client sometimes catches up and a
  // deadline checked only on blocking reads fires by luck).
  cpu_set_t saved, one;
  sched_getaffinity(0, sizeof saved, &saved);
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof one, &one);
  struct Restore {
    cpu_set_t* s;
    ~Restore() { sched_setaffinity(0, sizeof *s, s); }
  } restore{&saved};
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT(c.words) {
      ScriptedServer srv;
      c.script(srv);
      auto start = std::chrono::steady_clock::now();
      AttemptResult r = RunPlain(srv);
      double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      BOOST_TEST_MESSAGE("flood " << c.words << ": " << took << " s, "
                                  << (r.failure ? r.failure->dsn() + " " + r.failure->text() : "delivered"));
      BOOST_REQUIRE(r.failure);
      BOOST_TEST(r.failure->dsn() == "4.4.2");
      BOOST_TEST(r.failure->text() == "conversation with mx.test[127.0.0.1] timed out " + c.words);
      BOOST_TEST(took < c.max_seconds);
    }
  }
}

// Every form of what we sent while authenticating that could show up in
// our output: the password, the PLAIN blob raw and in base64, and the base64
// of the password inside any longer base64 blob (three alignments).
std::vector<std::string> AuthLeaks(const std::string& user, const std::string& password) {
  std::string blob = std::string(1, '\0') + user + '\0' + password;
  std::vector<std::string> leaks = {password, Base64Encode(blob), "AUTH PLAIN " + Base64Encode(blob).substr(0, 8)};
  for (int k = 0; k < 3; ++k) {
    std::string enc = Base64Encode(std::string(static_cast<std::size_t>(k), 'q') + password + "tail");
    std::size_t first = (8 * static_cast<std::size_t>(k) + 5) / 6;
    leaks.push_back(enc.substr(first, 8));  // 8 characters made of password bits only
  }
  return leaks;
}

BOOST_AUTO_TEST_CASE(server_echoing_auth_is_not_quoted) {
  for (bool soft_bounce : {true, false}) {
    BOOST_TEST_CONTEXT("smtp_sasl_auth_soft_bounce = " << (soft_bounce ? "yes" : "no")) {
      ScriptedServer srv;
      std::string blob = std::string(1, '\0') + "alice" + '\0' + kPassword;
      // The echo in four shapes: the whole line, the bare blob, the blob
      // inside longer base64 at other alignments, and the password.
      UpToTls(srv, "server").Expect("EHLO").Send("250-mx").Send("250 AUTH PLAIN").Expect("AUTH PLAIN")
          .SendEcho("535-5.7.8 bad: you sent ").SendEcho("535-5.7.8 ")
          .Send("535-5.7.8 in " + Base64Encode("x" + blob + "y") + " / " + Base64Encode("xy" + blob))
          .Send("535 5.7.8 password " + kPassword + " is wrong").Expect("QUIT");
      srv.Start();
      FastClient c;
      c.tls.level = TlsLevel::kEncrypt;
      c.policy.auth_soft_bounce = soft_bounce;
      AttemptResult r = c.Run(srv.port(), true);
      srv.Finish();
      BOOST_REQUIRE(r.failure);
      BOOST_TEST(r.failure->dsn() == (soft_bounce ? "4.7.8" : "5.7.8"));
      BOOST_TEST(r.failure->text().find("you sent AUTH PLAIN [redacted]") != std::string::npos, r.failure->text());
      std::string log = ReadFile(GlobalSetup::LogPath());
      for (const std::string& leak : AuthLeaks("alice", kPassword)) {
        BOOST_TEST(r.failure->text().find(leak) == std::string::npos, "status line leaks " << leak);
        BOOST_TEST(r.failure->detail().find(leak) == std::string::npos, "detail leaks " << leak);
        BOOST_TEST(log.find(leak) == std::string::npos, "log leaks " << leak);
      }
    }
  }
}

// The echo in shapes an exact match misses: the blob split over two lines
// of the reply, the password upper-cased, and percent-encoded in a URL.
BOOST_AUTO_TEST_CASE(server_echo_split_case_changed_or_percent_encoded_is_not_quoted) {
  const std::string blob = std::string(1, '\0') + "alice" + '\0' + kPassword;
  const std::string b64 = Base64Encode(blob);
  std::string upper = kPassword;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::string percent;
  for (unsigned char ch : kPassword) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    percent += std::string("%") + kHex[ch >> 4] + kHex[ch & 15];
  }
  ScriptedServer srv;
  UpToTls(srv, "server").Expect("EHLO").Send("250-mx").Send("250 AUTH PLAIN").Expect("AUTH PLAIN")
      .Send("535-5.7.8 you sent AUTH PLAIN " + b64.substr(0, 13))
      .Send("535-5.7.8 " + b64.substr(13) + " which is wrong")
      .Send("535-5.7.8 password " + upper + " is wrong")
      .Send("535 5.7.8 see https://help.test/?pw=" + percent).Expect("QUIT");
  srv.Start();
  FastClient c;
  c.tls.level = TlsLevel::kEncrypt;
  AttemptResult r = c.Run(srv.port(), true);
  srv.Finish();
  BOOST_REQUIRE(r.failure);
  BOOST_TEST(r.failure->dsn() == "4.7.8");
  std::string log = ReadFile(GlobalSetup::LogPath());
  std::vector<std::string> leaks = AuthLeaks("alice", kPassword);
  leaks.push_back(upper);
  leaks.push_back(percent.substr(0, 24));
  leaks.push_back(b64.substr(13, 8));
  for (const std::string& leak : leaks) {
    BOOST_TEST(r.failure->text().find(leak) == std::string::npos, "status line leaks " << leak << ": " << r.failure->text());
    BOOST_TEST(log.find(leak) == std::string::npos, "log leaks " << leak);
  }
}

// A resumed (shared) session: the holder sent AUTH, this Session never did,
// yet a server that echoes the password in a later reply must not be quoted.
BOOST_AUTO_TEST_CASE(resumed_session_server_echoing_the_password_is_not_quoted) {
  const std::string blob = std::string(1, '\0') + "alice" + '\0' + kPassword;
  ScriptedServer srv;
  srv.Expect("RSET").Send("250 2.0.0 ok")
      .Expect("MAIL FROM:").Expect("RCPT TO:").Expect("DATA")
      .Send("550-5.7.1 you authenticated with " + Base64Encode(blob))
      .Send("550 5.7.1 password " + kPassword + " is not allowed to send")
      .Send("503 5.5.1 no valid recipients").Send("503 5.5.1 no").Expect("QUIT");
  srv.Start();
  FastClient c;
  c.policy.keep_open = true;
  Capabilities caps;
  caps.pipelining = true;
  c.policy.resume = caps;
  c.policy.known_password = &c.creds.password;
  AttemptResult r = c.Run(srv.port(), true);
  srv.Finish();
  BOOST_REQUIRE(r.failure);
  std::string log = ReadFile(GlobalSetup::LogPath());
  for (const std::string& leak : AuthLeaks("alice", kPassword)) {
    BOOST_TEST(r.failure->text().find(leak) == std::string::npos, "status line leaks " << leak << ": " << r.failure->text());
    BOOST_TEST(log.find(leak) == std::string::npos, "log leaks " << leak);
  }
}

// smtp(8) says QUIT when the server refused something before MAIL, and
// only then: not after a timeout, a dropped connection or a TLS failure.
BOOST_AUTO_TEST_CASE(quit_after_a_refused_greeting_ehlo_starttls_or_auth) {
  struct Case {
    std::function<void(ScriptedServer&)> script;
    TlsLevel level;
    std::string dsn;
  } cases[] = {
      {[](ScriptedServer& s) { s.Send("554 5.3.2 go away").Expect("QUIT"); }, TlsLevel::kMay, "4.3.2"},
      {[](ScriptedServer& s) {
         s.Send("220 mx").Expect("EHLO").Send("550 no").Expect("HELO").Send("550 no").Expect("QUIT");
       },
       TlsLevel::kMay, "4.0.0"},
      {[](ScriptedServer& s) {
         s.Send("220 mx").Expect("EHLO").Send("250-mx").Send("250 STARTTLS").Expect("STARTTLS")
             .Send("454 4.7.0 TLS not available").Expect("QUIT");
       },
       TlsLevel::kEncrypt, "4.7.0"},
      {[](ScriptedServer& s) { s.Send("220 mx").Expect("EHLO").Send("250 mx").Expect("QUIT"); }, TlsLevel::kEncrypt,
       "4.7.4"},
      {[](ScriptedServer& s) {
         UpToTls(s, "server").Expect("EHLO").Send("250-mx").Send("250 AUTH PLAIN").Expect("AUTH PLAIN")
             .Send("535 5.7.8 no").Expect("QUIT");
       },
       TlsLevel::kEncrypt, "4.7.8"},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT(c.dsn) {
      ScriptedServer srv;
      c.script(srv);
      srv.Start();
      FastClient client;
      client.tls.level = c.level;
      AttemptResult r = client.Run(srv.port(), true);
      BOOST_TEST(srv.Finish() == "");
      BOOST_REQUIRE(r.failure);
      BOOST_TEST(r.failure->dsn() == c.dsn);
    }
  }
}

// Addresses go out as smtp(8) sends them: quoted when needed, never quoted
// twice, and no address can add a parameter to the MAIL or RCPT line.
BOOST_AUTO_TEST_CASE(addresses_quoted_on_the_wire) {
  ScriptedServer srv;
  Plain(srv).Expect("MAIL FROM:<\"s p\"@example.org>").Send("250 ok")
      .Expect("RCPT TO:<\"q r\"@example.test>").Send("250 ok")
      .Expect("RCPT TO:<\"r@a> NOTIFY=NEVER <z\"@example.org>").Send("250 ok")
      .Expect("DATA").Send("354 go").ReadData().Send("250 ok").Expect("QUIT");
  srv.Start();
  FastClient c;
  c.env.sender = "s p@example.org";
  c.env.recipients = {"\"q r\"@example.test", "r@a> NOTIFY=NEVER <z@example.org"};
  AttemptResult r = c.Run(srv.port(), false);
  BOOST_TEST(srv.Finish() == "");
  BOOST_TEST(r.delivered);
  for (const auto& l : srv.received()) {
    if (l.rfind("MAIL", 0) != 0 && l.rfind("RCPT", 0) != 0) continue;
    BOOST_TEST(l.find("<<") == std::string::npos);
    BOOST_TEST(l.rfind('>') == l.size() - 1);
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
