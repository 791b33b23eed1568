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

#include <poll.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

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

// A hostile proxy: accepts one connection, sends `script` (all at once, or
// one byte per write), then reads until the client closes. It does not wait
// for the client's requests: the client reads only the bytes each step needs,
// so what is left over shows whether it took too much.
class RawProxy {
 public:
  explicit RawProxy(std::string script, bool one_byte_writes = false) {
    listen_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(listen_, 1) == 0);
    socklen_t len = sizeof a;
    getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, script = std::move(script), one_byte_writes] {
      pollfd p{listen_, POLLIN, 0};
      if (poll(&p, 1, 10000) != 1) return;
      int c = accept(listen_, nullptr, nullptr);
      if (c < 0) return;
      for (std::size_t i = 0; i < script.size();) {
        std::size_t n = one_byte_writes ? 1 : script.size() - i;
        ssize_t w = write(c, script.data() + i, n);
        if (w <= 0) break;
        i += static_cast<std::size_t>(w);
        if (one_byte_writes) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      char buf[4096];
      for (;;) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 10000) != 1) break;
        ssize_t r = read(c, buf, sizeof buf);
        if (r <= 0) break;
        received_.append(buf, static_cast<std::size_t>(r));
      }
      close(c);
    });
  }
  ~RawProxy() {
    thread_.join();
    close(listen_);
  }
  int port() const { return port_; }

 private:
  int listen_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string received_;
};

Result<UniqueFd> ConnectRaw(const std::string& scheme_and_creds, const RawProxy& proxy, int seconds = 5) {
  ProxyConfig p = Proxy(scheme_and_creds + "127.0.0.1:" + std::to_string(proxy.port()));
  return ConnectViaProxy(p, ProxiedEndpoint("mx.test", 25), Deadline::AfterSeconds(seconds), "all", "");
}

// What the server side of a tunnel sends first, read with a short wait.
std::string FirstBytes(int fd, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) break;
    char buf[256];
    ssize_t r = read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

const std::string kSocksOk("\x05\x00", 2);

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

// Hostile proxies, from outside: each answer either refuses in one line
// without the password, or connects with not one byte of the server's
// greeting consumed.
BOOST_AUTO_TEST_CASE(hostile_socks5_connect_reply_with_a_wrong_version_is_not_a_connection) {
  RawProxy px(kSocksOk + std::string("\x04\x00\x00\x01\x7f\x00\x00\x01\x00\x19", 10) + "220 forged\r\n");
  auto fd = ConnectRaw("socks5://", px);
  BOOST_REQUIRE(!fd.ok());
  BOOST_CHECK_NE(fd.failure().text().find("malformed SOCKS5 answer"), std::string::npos);
  BOOST_CHECK_EQUAL(fd.failure().dsn().substr(0, 2), "4.");
}

BOOST_AUTO_TEST_CASE(hostile_socks5_auth_reply_with_a_wrong_version_is_refused) {
  RawProxy px(std::string("\x05\x02", 2) + std::string("\x05\x00", 2) +
              std::string("\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x19", 10));
  auto fd = ConnectRaw("socks5://relay:" + kProxyPassword + "@", px);
  BOOST_REQUIRE(!fd.ok());
  BOOST_CHECK_NE(fd.failure().text().find("authentication answer"), std::string::npos);
  CheckNoSecret(fd.failure().text());
}

BOOST_AUTO_TEST_CASE(hostile_socks5_255_byte_domain_in_1_byte_writes_leaves_the_greeting_unread) {
  std::string reply("\x05\x00\x00\x03\xff", 5);
  reply += std::string(255, 'a') + std::string("\x00\x19", 2) + "220 mx.test ESMTP\r\n";
  RawProxy px(kSocksOk + reply, /*one_byte_writes=*/true);
  auto fd = ConnectRaw("socks5://", px);
  BOOST_REQUIRE_MESSAGE(fd.ok(), (fd.ok() ? "" : fd.failure().text()));
  BOOST_CHECK_EQUAL(FirstBytes(fd.value().get(), 19), "220 mx.test ESMTP\r\n");
}

BOOST_AUTO_TEST_CASE(hostile_socks5_short_reply_or_garbage_is_a_proxy_failure) {
  for (const std::string& script : {std::string("\x05", 1), std::string("HTTP/1.1 400 Bad\r\n\r\n"),
                                    kSocksOk + std::string("\x05\x00\x00\x09", 4)}) {
    RawProxy px(script);
    auto fd = ConnectRaw("socks5://", px);
    BOOST_REQUIRE(!fd.ok());
    BOOST_CHECK_EQUAL(fd.failure().dsn().substr(0, 2), "4.");
    BOOST_CHECK_NE(fd.failure().text().find("via proxy socks5 127.0.0.1"), std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_silent_proxy_is_bounded_by_the_deadline) {
  for (const char* scheme : {"socks5://", "http://"}) {
    RawProxy px("");
    auto start = std::chrono::steady_clock::now();
    auto fd = ConnectRaw(scheme, px, 1);
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_REQUIRE(!fd.ok());
    BOOST_CHECK_NE(fd.failure().text().find("timed out"), std::string::npos);
    BOOST_CHECK(took < std::chrono::milliseconds(1800));
  }
}

BOOST_AUTO_TEST_CASE(hostile_http_header_that_never_ends_is_not_a_connection) {
  RawProxy px("HTTP/1.1 200 Connection established\r\nX-Pad: " + std::string(9000, 'a'));
  auto fd = ConnectRaw("http://", px);
  BOOST_REQUIRE_MESSAGE(!fd.ok(), "a 200 whose header never ended was taken as a tunnel");
  BOOST_CHECK_NE(fd.failure().text().find("no end of header"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(hostile_http_proxy_echoing_the_password_is_not_logged) {
  RawProxy px("HTTP/1.1 407 wrong password " + kProxyPassword + " for relay\r\n\r\n");
  auto fd = ConnectRaw("http://relay:" + kProxyPassword + "@", px);
  BOOST_REQUIRE(!fd.ok());
  BOOST_CHECK_EQUAL(fd.failure().dsn(), "4.7.0");
  BOOST_CHECK_NE(fd.failure().text().find("wrong password *****"), std::string::npos);
  CheckNoSecret(fd.failure().text());
  CheckNoSecret(fd.failure().detail());
}

BOOST_AUTO_TEST_CASE(http_200_with_bytes_after_the_header_leaves_them_to_the_session) {
  // What follows the head is the tunnel: the server's greeting (or a forgery
  // a proxy could send as well after it); plaintext before STARTTLS is never
  // trusted, and after STARTTLS the session refuses buffered plaintext.
  RawProxy px("HTTP/1.1 200 OK\r\nVia: x\r\n\r\n220 mx.test ESMTP\r\n", /*one_byte_writes=*/true);
  auto fd = ConnectRaw("http://", px);
  BOOST_REQUIRE_MESSAGE(fd.ok(), (fd.ok() ? "" : fd.failure().text()));
  BOOST_CHECK_EQUAL(FirstBytes(fd.value().get(), 19), "220 mx.test ESMTP\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
