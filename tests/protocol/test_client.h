// Helpers shared by the protocol tests: a client wired like delivery.cc
// wires it (real Connection, TlsClient, Cyrus SASL) and test files.
#pragma once

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "credmap/credentials.h"
#include "fakes/fake_transport.h"
#include "log/log.h"
#include "net/connection.h"
#include "protocol/scripted_server.h"
#include "sasl/sasl_client.h"
#include "smtp/session.h"

namespace authrelay::testing {

inline const std::string kPassword = "pr0tocol-S3cret-pw";

inline std::string Certs() {
  const char* d = std::getenv("AUTHRELAY_TEST_CERTS");
  BOOST_REQUIRE_MESSAGE(d != nullptr, "AUTHRELAY_TEST_CERTS not set (run through ctest)");
  return d;
}


struct GlobalSetup {
  GlobalSetup() {
    signal(SIGPIPE, SIG_IGN);  // the server writes to clients that hung up
    log::Options o;
    o.file = LogPath();
    o.verbose = 1;
    std::remove(o.file.c_str());
    log::Init(o);
  }
  ~GlobalSetup() {
    // Hand the log and the secret to the suite-wide secret check.
    if (const char* dest = std::getenv("AUTHRELAY_TEST_ARTIFACTS")) {
      std::string d = dest;
      std::string name = "protocol-" + std::to_string(getpid());
      std::system(("mkdir -p " + d + "/" + name + " " + d + "/secrets && cp " + LogPath() + " " + d + "/" + name +
                   "/").c_str());
      std::ofstream(d + "/secrets/" + name) << kPassword << "\n";
    }
    std::remove(LogPath().c_str());
  }
  static std::string LogPath() { return "/tmp/authrelay-protocol-test-" + std::to_string(getpid()) + ".log"; }
};

inline SaslLibrary& Sasl() { return SaslLibrary::Global(); }

// The usual opening of a scripted server: greeting, EHLO offering
// STARTTLS, then TLS with Certs()/<cert>.pem (max_version 0 = any).
inline ScriptedServer& UpToTls(ScriptedServer& s, const std::string& cert, int max_version = 0) {
  return s.Send("220 mx.test ESMTP").Expect("EHLO").Send("250-mx.test").Send("250 STARTTLS").Expect("STARTTLS")
      .Send("220 2.0.0 Ready to start TLS")
      .StartTls(Certs() + "/" + cert + ".pem", Certs() + "/" + cert + ".key", max_version);
}

struct Client {
  TlsPolicy tls;
  SessionPolicy policy;
  Credentials creds;
  Envelope env{"sender@example.org", {"rcpt@example.com"}, std::nullopt, {}};
  TlsInfo last_tls;

  Client() {
    tls.level = TlsLevel::kSecure;
    tls.ca_file = Certs() + "/ca.pem";
    tls.match_names = {"mx.test"};
    tls.server_name = "mx.test";
    policy.helo_name = "relay.test";
    policy.trace = true;
    policy.sasl_options_tls = "noanonymous";
    policy.sasl_options_verified = "noanonymous";
    creds.username = "alice";
    creds.password = Secret(kPassword);
    BOOST_REQUIRE(Sasl().Load({"PLAIN"}));
  }

  AttemptResult Run(int port, bool with_creds = true, std::string message = "Subject: t\n\nhello\n") {
    policy.tls_level = tls.level;
    policy.sasl_username.reset();
    if (with_creds) policy.sasl_username = creds.username;
    const Credentials* c = &creds;
    if (!policy.sasl_factory) {
      policy.sasl_factory = [c](unsigned flags, bool) { return NewCyrusSaslClient("mx.test", c->username, c->password, flags); };
    }
    auto eps = ResolveHost("127.0.0.1", static_cast<std::uint16_t>(port), "all");
    BOOST_REQUIRE(eps.ok());
    auto fd = ConnectTo(eps.value()[0], Deadline::AfterSeconds(5));
    BOOST_REQUIRE(fd.ok());
    TlsClient tls_client(tls);
    Connection conn(std::move(fd).value(), &tls_client);
    Session s(conn, "mx.test[127.0.0.1]", static_cast<std::uint16_t>(port), policy);
    StringSource src(std::move(message));
    AttemptResult r = s.Run(env, src, Deadline::AfterSeconds(10));
    // As delivery.cc: keep the session only from an accepted handshake.
    if (conn.tls()) {
      last_tls = *conn.tls();
      if (!TlsVerifies(tls.level) || conn.tls()->verified) tls_client.SaveSession();
    }
    return r;
  }
};

inline std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace authrelay::testing
