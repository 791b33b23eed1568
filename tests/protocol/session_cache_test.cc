// TLS session resumption across deliveries (tls/session_cache.h): a second
// delivery to the same server under the same policy resumes the session
// the first one saved; a cache file that is damaged, not ours, too open or
// a symlink is ignored and costs only a full handshake.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "protocol/test_client.h"
#include "tls/session_cache.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

// One "smarthost": a server context shared by every connection, so its
// session tickets stay valid across them.
struct Smarthost {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  Smarthost() {
    BOOST_REQUIRE(SSL_CTX_use_certificate_chain_file(ctx, (Certs() + "/server.pem").c_str()) == 1);
    BOOST_REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, (Certs() + "/server.key").c_str(), SSL_FILETYPE_PEM) == 1);
  }
  ~Smarthost() { SSL_CTX_free(ctx); }
};

struct CacheDir {
  std::string dir = "/tmp/authrelay-session-cache-test-" + std::to_string(getpid());
  std::string file = dir + "/tls_session_cache";
  CacheDir() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~CacheDir() { std::filesystem::remove_all(dir); }
};

// One delivery through a fresh server on the shared context; returns
// whether the server saw a resumed session.
bool Deliver(Smarthost& host, Client& c) {
  ScriptedServer s;
  s.ShareContext(host.ctx);
  UpToTls(s, "server")
      .Expect("EHLO").Send("250-mx.test").Send("250 AUTH PLAIN")
      .Expect("AUTH PLAIN").Send("235 2.7.0 ok")
      .Expect("MAIL FROM:").Send("250 ok").Expect("RCPT TO:").Send("250 ok")
      .Expect("DATA").Send("354 go").ReadData().Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  s.Start();
  AttemptResult r = c.Run(s.port());
  BOOST_REQUIRE_MESSAGE(r.delivered, (r.failure ? r.failure->text() : std::string("not delivered")));
  BOOST_REQUIRE_EQUAL(s.Finish(), "");
  BOOST_CHECK_EQUAL(c.last_tls.resumed, s.session_reused());  // client and server agree
  BOOST_CHECK(c.last_tls.verified);
  return s.session_reused();
}

Client CachingClient(const CacheDir& d) {
  Client c;
  c.tls.session_cache_file = d.file;
  c.tls.session_cache_timeout = 3600;
  c.tls.session_peer = "[mx.test]:587|mx.test:587";
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_session_cache)

BOOST_AUTO_TEST_CASE(second_delivery_resumes_the_session) {
  Smarthost host;
  CacheDir d;
  Client c = CachingClient(d);
  BOOST_CHECK(!Deliver(host, c));  // nothing cached yet: full handshake
  struct stat st{};
  BOOST_REQUIRE_EQUAL(stat(d.file.c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_mode & 07777, 0600u);
  BOOST_CHECK(Deliver(host, c));   // resumed
  BOOST_CHECK(Deliver(host, c));   // and again, with the ticket it got then
}

BOOST_AUTO_TEST_CASE(no_cache_file_setting_means_no_resumption) {
  Smarthost host;
  Client c;  // session_cache_file empty
  BOOST_CHECK(!Deliver(host, c));
  BOOST_CHECK(!Deliver(host, c));
}

BOOST_AUTO_TEST_CASE(another_policy_does_not_resume_the_session) {
  Smarthost host;
  CacheDir d;
  Client c = CachingClient(d);
  BOOST_CHECK(!Deliver(host, c));
  Client other = CachingClient(d);
  other.tls.protocols = ">=TLSv1.3";  // any policy field changes the key
  BOOST_CHECK(!Deliver(host, other));
  Client other_hop = CachingClient(d);
  other_hop.tls.session_peer = "[mx2.test]:587|mx.test:587";
  BOOST_CHECK(!Deliver(host, other_hop));
  BOOST_CHECK(Deliver(host, c));  // the first policy's session is still there
}

BOOST_AUTO_TEST_CASE(a_corrupt_cache_file_is_ignored_and_replaced) {
  Smarthost host;
  CacheDir d;
  Client c = CachingClient(d);
  BOOST_CHECK(!Deliver(host, c));
  std::string good = ReadFile(d.file);
  // Damage it every way a crash or a stray editor could.
  for (std::string bad : {std::string("garbage\n\x01\x02\xff"), good.substr(0, good.size() / 2),
                          good.substr(0, 60) + good.substr(200), std::string()}) {
    std::ofstream(d.file, std::ios::trunc) << bad;
    BOOST_CHECK(!Deliver(host, c));  // full handshake, delivered
    BOOST_CHECK(Deliver(host, c));   // the cache works again
  }
}

BOOST_AUTO_TEST_CASE(a_line_with_a_wrong_check_is_skipped) {
  CacheDir d;
  Smarthost host;
  Client c = CachingClient(d);
  BOOST_CHECK(!Deliver(host, c));
  std::string text = ReadFile(d.file);
  auto pos = text.find(' ', text.find('\n') + 1);  // after the key: flip a digit of the expiry
  text[pos + 1] = text[pos + 1] == '1' ? '2' : '1';
  std::ofstream(d.file, std::ios::trunc) << text;
  BOOST_CHECK(!Deliver(host, c));
}

BOOST_AUTO_TEST_CASE(an_unsafe_cache_file_is_never_used) {
  Smarthost host;
  CacheDir d;
  Client c = CachingClient(d);
  BOOST_CHECK(!Deliver(host, c));
  std::string good = ReadFile(d.file);
  // Readable by others: ignored (sessions hold secrets), left alone.
  chmod(d.file.c_str(), 0644);
  BOOST_CHECK(!Deliver(host, c));
  BOOST_CHECK(!Deliver(host, c));
  BOOST_CHECK_EQUAL(ReadFile(d.file), good);
  chmod(d.file.c_str(), 0600);
  BOOST_CHECK(Deliver(host, c));
  // A symlink to our own valid cache: not followed.
  std::filesystem::rename(d.file, d.dir + "/real");
  std::filesystem::create_symlink(d.dir + "/real", d.file);
  BOOST_CHECK(!Deliver(host, c));
  BOOST_CHECK(!Deliver(host, c));
  std::filesystem::remove(d.file);
  // Owned by another user (needs root to arrange, as the suite runs in CI).
  if (geteuid() == 0) {
    std::filesystem::rename(d.dir + "/real", d.file);
    BOOST_REQUIRE_EQUAL(chown(d.file.c_str(), 65534, 65534), 0);
    std::string before = ReadFile(d.file);
    BOOST_CHECK(!Deliver(host, c));
    BOOST_CHECK(!Deliver(host, c));
    BOOST_CHECK_EQUAL(ReadFile(d.file), before);  // not rewritten either
    struct stat st{};
    BOOST_REQUIRE_EQUAL(stat(d.file.c_str(), &st), 0);
    BOOST_CHECK_EQUAL(st.st_uid, 65534u);
  } else {
    BOOST_TEST_MESSAGE("not root: foreign-owner case not run");
  }
  std::string log = ReadFile(GlobalSetup::LogPath());
  BOOST_CHECK_NE(log.find("ignoring the TLS session cache " + d.file + ": mode 0644, not 0600"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(expired_sessions_are_not_offered_and_the_file_is_bounded) {
  Smarthost host;
  CacheDir d;
  Client c = CachingClient(d);
  BOOST_CHECK(!Deliver(host, c));
  TlsClient probe(c.tls);
  TlsSessionCache cache(d.file, 3600);
  BOOST_CHECK(cache.Load(probe.SessionKey()) != nullptr);
  BOOST_CHECK(cache.Load(probe.SessionKey(), std::time(nullptr) + 7200) == nullptr);
  // Many next hops: the file keeps at most kMaxEntries sessions.
  SslSessionPtr s = cache.Load(probe.SessionKey());
  for (int i = 0; i < 150; ++i) {
    std::string key(64, 'a');
    std::string n = std::to_string(i);
    key.replace(0, n.size(), n);
    BOOST_REQUIRE(cache.Store(key, s.get()));
  }
  std::string text = ReadFile(d.file);
  BOOST_CHECK_EQUAL(std::count(text.begin(), text.end(), '\n'), 1 + static_cast<long>(TlsSessionCache::kMaxEntries));
}

BOOST_AUTO_TEST_SUITE_END()
