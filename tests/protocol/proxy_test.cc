// Egress through a proxy: the test proxies of tests/proxy/test_proxy.py
// (SOCKS5 with user/password, HTTP CONNECT without), a scripted server
// behind them, verified TLS end to end (the certificate is checked for
// mx.test, the name the proxy was asked for), and each refusal with a line
// that says which side refused. No proxy password in any failure text.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>

#include "net/proxy.h"
#include "protocol/test_client.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

const std::string kProxyPassword = "pr0xy-S3cret";

// One test proxy process, started here and ended by its pid.
class TestProxy {
 public:
  explicit TestProxy(std::vector<std::string> args) {
    const char* src = std::getenv("AUTHRELAY_TEST_SOURCE");
    BOOST_REQUIRE_MESSAGE(src, "AUTHRELAY_TEST_SOURCE not set (run through ctest)");
    log_ = "/tmp/authrelay-proxy-test-" + std::to_string(getpid()) + "-" + std::to_string(++count_) + ".log";
    int out[2];
    BOOST_REQUIRE(pipe(out) == 0);
    pid_ = fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(out[1], 1);
      FILE* err = std::fopen(log_.c_str(), "w");
      if (err) dup2(fileno(err), 2);
      close(out[0]);
      std::vector<std::string> argv = {"python3", std::string(src) + "/tests/proxy/test_proxy.py"};
      argv.insert(argv.end(), args.begin(), args.end());
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execvp("python3", cargv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[64] = {0};
    BOOST_REQUIRE(f && std::fgets(line, sizeof line, f));
    std::fclose(f);
    BOOST_REQUIRE(std::sscanf(line, "PORT %d", &port_) == 1);
  }
  ~TestProxy() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    std::remove(log_.c_str());
  }
  int port() const { return port_; }
  std::string Log() const { return ReadFile(log_); }

 private:
  static inline int count_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

int ClosedPort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

ProxyConfig Proxy(const std::string& url) {
  auto p = ParseProxyUrl(url, "test", true);
  BOOST_REQUIRE_MESSAGE(p.ok(), (p.ok() ? std::string() : p.failure().text()));
  return std::move(p).value();
}

struct ViaResult {
  std::optional<Failure> connect_failure;
  AttemptResult attempt;
  bool verified = false;
};

// Client::Run, but connected through the proxy to "mx.test" by name.
ViaResult DeliverVia(const ProxyConfig& proxy, int server_port) {
  Client c;
  c.policy.tls_level = c.tls.level;
  c.policy.sasl_username = c.creds.username;
  const Credentials* cr = &c.creds;
  c.policy.sasl_factory = [cr](unsigned flags, bool) {
    return NewCyrusSaslClient("mx.test", cr->username, cr->password, flags);
  };
  ViaResult out;
  Endpoint target = ProxiedEndpoint("mx.test", static_cast<std::uint16_t>(server_port));
  auto fd = ConnectViaProxy(proxy, target, Deadline::AfterSeconds(5), "all", "");
  if (!fd.ok()) {
    out.connect_failure = fd.failure();
    return out;
  }
  TlsClient tls_client(c.tls);
  Connection conn(std::move(fd).value(), &tls_client);
  Session s(conn, target.HostAddr(), target.port, c.policy);
  StringSource src("Subject: via proxy\n\nhello through the proxy\n");
  out.attempt = s.Run(c.env, src, Deadline::AfterSeconds(10));
  out.verified = conn.tls() && conn.tls()->verified;
  return out;
}

void ServeOneMessage(ScriptedServer& s) {
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH PLAIN")
      .Expect("AUTH PLAIN").Send("235 2.7.0 ok")
      .Expect("MAIL FROM:").Send("250 ok").Expect("RCPT TO:").Send("250 ok").Expect("DATA").Send("354 go")
      .ReadData().Send("250 2.0.0 queued via proxy").Expect("QUIT").Send("221 bye");
  s.Start();
}

void CheckNoSecret(const std::string& text) {
  BOOST_CHECK_EQUAL(text.find(kProxyPassword), std::string::npos);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proxy)

BOOST_AUTO_TEST_CASE(proxy_urls) {
  auto p = ParseProxyUrl("socks5://relay:pr0xy%2DS3cret@[::1]:1080", "x", true);
  BOOST_REQUIRE(p.ok());
  BOOST_CHECK_EQUAL(p.value().host, "::1");
  BOOST_CHECK_EQUAL(p.value().port, 1080);
  BOOST_CHECK_EQUAL(p.value().username, "relay");
  BOOST_CHECK_EQUAL(p.value().password.Reveal(), kProxyPassword);
  BOOST_CHECK_EQUAL(p.value().Describe(), "socks5 [::1]:1080");
  BOOST_CHECK_EQUAL(p.value().CurlUrl().Reveal(), "socks5h://relay:pr0xy-S3cret@[::1]:1080");
  // Credentials in a world-readable setting: refused, without echoing them.
  auto g = ParseProxyUrl("http://u:" + kProxyPassword + "@proxy:3128", "authrelay_proxy", false);
  BOOST_REQUIRE(!g.ok());
  BOOST_CHECK_EQUAL(g.failure().dsn(), "4.3.5");
  CheckNoSecret(g.failure().text());
  BOOST_CHECK(!ParseProxyUrl("ftp://proxy:21", "x", true).ok());
  BOOST_CHECK(!ParseProxyUrl("socks5://proxy", "x", true).ok());
  BOOST_CHECK(!ParseProxyUrl("socks5://proxy:70000", "x", true).ok());
}

BOOST_AUTO_TEST_CASE(delivery_through_socks5_with_authentication_and_verified_tls) {
  TestProxy proxy({"socks5", "--user", "relay", "--password", kProxyPassword, "--resolve", "mx.test=127.0.0.1"});
  ScriptedServer s;
  ServeOneMessage(s);
  ViaResult r = DeliverVia(Proxy("socks5://relay:" + kProxyPassword + "@127.0.0.1:" + std::to_string(proxy.port())),
                           s.port());
  BOOST_REQUIRE_MESSAGE(!r.connect_failure, (r.connect_failure ? r.connect_failure->text() : std::string()));
  BOOST_CHECK(r.attempt.delivered);
  BOOST_CHECK(r.verified);
  BOOST_CHECK_EQUAL(s.Finish(), "");
  BOOST_CHECK_NE(s.data().find("hello through the proxy"), std::string::npos);
  std::string log = proxy.Log();
  BOOST_TEST_MESSAGE("socks5 proxy log: " << log << "reply: " << r.attempt.final_reply);
  BOOST_CHECK_NE(log.find("AUTH user=relay ok"), std::string::npos);
  // Remote name resolution: the proxy got the name, not an address.
  BOOST_CHECK_NE(log.find("CONNECT mx.test:" + std::to_string(s.port()) + " atyp=domain"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(delivery_through_http_connect_with_verified_tls) {
  TestProxy proxy({"http", "--resolve", "mx.test=127.0.0.1"});
  ScriptedServer s;
  ServeOneMessage(s);
  ViaResult r = DeliverVia(Proxy("http://127.0.0.1:" + std::to_string(proxy.port())), s.port());
  BOOST_REQUIRE_MESSAGE(!r.connect_failure, (r.connect_failure ? r.connect_failure->text() : std::string()));
  BOOST_CHECK(r.attempt.delivered);
  BOOST_CHECK(r.verified);
  BOOST_CHECK_EQUAL(s.Finish(), "");
  std::string log = proxy.Log();
  BOOST_TEST_MESSAGE("http proxy log: " << log);
  BOOST_CHECK_NE(log.find("CONNECT mx.test:" + std::to_string(s.port())), std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_refused_proxy_says_it_was_the_proxy) {
  int closed = ClosedPort();
  ViaResult r = DeliverVia(Proxy("socks5://127.0.0.1:" + std::to_string(closed)), 25);
  BOOST_REQUIRE(r.connect_failure);
  BOOST_TEST_MESSAGE("refused proxy: " << r.connect_failure->dsn() << " " << r.connect_failure->text());
  BOOST_CHECK_EQUAL(r.connect_failure->dsn(), "4.4.1");
  BOOST_CHECK_NE(r.connect_failure->text().find("connect to proxy socks5 127.0.0.1:" + std::to_string(closed) +
                                                " failed (the proxy, not the mail server)"),
                 std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_refused_target_says_it_was_the_server) {
  int closed = ClosedPort();
  {
    TestProxy proxy({"socks5", "--resolve", "mx.test=127.0.0.1"});
    ViaResult r = DeliverVia(Proxy("socks5://127.0.0.1:" + std::to_string(proxy.port())), closed);
    BOOST_REQUIRE(r.connect_failure);
    BOOST_TEST_MESSAGE("refused target (socks5): " << r.connect_failure->dsn() << " " << r.connect_failure->text());
    BOOST_CHECK_EQUAL(r.connect_failure->dsn(), "4.4.1");
    BOOST_CHECK_NE(r.connect_failure->text().find("connect to mx.test:" + std::to_string(closed) + " via proxy socks5 "
                                                  "127.0.0.1:" + std::to_string(proxy.port()) +
                                                  ": the server refused the connection"),
                   std::string::npos);
  }
  {
    TestProxy proxy({"http", "--resolve", "mx.test=127.0.0.1"});
    ViaResult r = DeliverVia(Proxy("http://127.0.0.1:" + std::to_string(proxy.port())), closed);
    BOOST_REQUIRE(r.connect_failure);
    BOOST_TEST_MESSAGE("refused target (http): " << r.connect_failure->dsn() << " " << r.connect_failure->text());
    BOOST_CHECK_NE(r.connect_failure->text().find("the proxy could not reach the server"), std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_wrong_proxy_password_is_the_proxy_refusing_credentials) {
  TestProxy proxy({"socks5", "--user", "relay", "--password", "other-password", "--resolve", "mx.test=127.0.0.1"});
  ViaResult r = DeliverVia(Proxy("socks5://relay:" + kProxyPassword + "@127.0.0.1:" + std::to_string(proxy.port())), 25);
  BOOST_REQUIRE(r.connect_failure);
  BOOST_TEST_MESSAGE("wrong proxy password: " << r.connect_failure->dsn() << " " << r.connect_failure->text());
  BOOST_CHECK_EQUAL(r.connect_failure->dsn(), "4.7.0");
  BOOST_CHECK_NE(r.connect_failure->text().find("the proxy refused the user name or password for relay"),
                 std::string::npos);
  CheckNoSecret(r.connect_failure->text());
}

BOOST_AUTO_TEST_SUITE_END()
