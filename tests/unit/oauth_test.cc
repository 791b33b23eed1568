// OAuth pieces that need no network: the map value syntax, the XOAUTH2 and
// OAUTHBEARER messages, the token store's refresh logic (with a fake token
// endpoint), and that a store replaced while the writer is killed -9 is
// always whole.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "credmap/credentials.h"
#include "oauth/token_store.h"
#include "sasl/oauth_client.h"

using namespace authrelay;

namespace {

struct Dir {
  std::string path = "/tmp/authrelay-oauth-unit-" + std::to_string(getpid());
  Dir() { std::filesystem::create_directories(path); }
  ~Dir() { std::filesystem::remove_all(path); }
};

TokenStore Sample(const std::string& path, long long expires_at) {
  TokenStore s;
  s.path = path;
  s.token_endpoint = "https://login.example/token";
  s.client_id = "client-1";
  s.client_secret = Secret("cs-1");
  s.refresh_token = Secret("rt-1");
  s.access_token = Secret("at-1");
  s.expires_at = expires_at;
  s.refreshed_at = 1000;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oauth)

BOOST_AUTO_TEST_CASE(map_value_names_a_token_store_only_with_oauth2_colon_slash) {
  Credentials c = SplitCredentialValue(Secret("user@gmail.com:oauth2:/var/lib/authrelay/oauth/user.json"));
  BOOST_TEST(c.username == "user@gmail.com");
  BOOST_TEST(c.oauth_store == "/var/lib/authrelay/oauth/user.json");
  BOOST_TEST(c.password.empty());
  // Everything else is a password, as before.
  for (const char* pw : {"oauth2:relative", "oauth2", "Oauth2:/x", "x:oauth2:/y", ""}) {
    Credentials p = SplitCredentialValue(Secret(std::string("u:") + pw));
    BOOST_TEST(p.oauth_store.empty());
    BOOST_TEST(p.password.Reveal() == pw);
  }
}

BOOST_AUTO_TEST_CASE(xoauth2_and_oauthbearer_initial_responses) {
  OAuthSaslClient x("user@example.com", Secret("ya29.tok"), "smtp.gmail.com", 587);
  auto s = x.Start({"LOGIN", "PLAIN", "XOAUTH2"});
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().mechanism == "XOAUTH2");
  BOOST_TEST(*s.value().response == std::string("user=user@example.com\x01" "auth=Bearer ya29.tok\x01\x01"));
  // Google's error challenge is answered with an empty response.
  auto r = x.Step(R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().empty());
  BOOST_TEST(x.last_error().find("\"status\":\"401\"") != std::string::npos);

  OAuthSaslClient b("user@example.com", Secret("tok"), "smtp.example.com", 465);
  s = b.Start({"XOAUTH2", "OAUTHBEARER"});
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().mechanism == "OAUTHBEARER");  // the standard one when both are offered
  BOOST_TEST(*s.value().response ==
             std::string("n,a=user@example.com,\x01host=smtp.example.com\x01port=465\x01" "auth=Bearer tok\x01\x01"));
  r = b.Step(R"({"status":"invalid_token"})");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value() == "\x01");  // RFC 7628 §3.2.3

  OAuthSaslClient none("u", Secret("t"), "h", 25);
  auto n = none.Start({"PLAIN", "LOGIN"});
  BOOST_REQUIRE(!n.ok());
  BOOST_TEST(n.failure().detail().find("neither XOAUTH2 nor OAUTHBEARER") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refresh_only_when_needed_and_rotation_is_saved) {
  Dir d;
  std::string path = d.path + "/store.json";
  std::time_t now = 1'800'000'000;
  BOOST_REQUIRE(WriteTokenStore(Sample(path, now + 3600)).ok());
  int requests = 0;
  std::string last_form;
  TokenHttpPost post = [&](const std::string& url, const Secret& form) -> Result<TokenResponse> {
    ++requests;
    last_form = form.Reveal();
    BOOST_TEST(url == "https://login.example/token");
    return TokenResponse{200, R"({"access_token":"at-2","expires_in":3599,"refresh_token":"rt-2"})"};
  };
  bool refreshed = true;
  auto t = GetAccessToken(path, TokenPolicy{}, post, &refreshed, now);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t.value().Reveal() == "at-1");
  BOOST_TEST(!refreshed);
  BOOST_TEST(requests == 0);
  // Inside the early-refresh window (5 minutes): refreshed.
  t = GetAccessToken(path, TokenPolicy{}, post, &refreshed, now + 3600 - 200);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t.value().Reveal() == "at-2");
  BOOST_TEST(refreshed);
  BOOST_TEST(requests == 1);
  BOOST_TEST(last_form == "grant_type=refresh_token&client_id=client-1&client_secret=cs-1&refresh_token=rt-1");
  auto s = ReadTokenStore(path);
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().refresh_token.Reveal() == "rt-2");
  BOOST_TEST(s.value().expires_at == now + 3600 - 200 + 3599);
  struct stat st{};
  BOOST_REQUIRE(stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  // The server refused at-2 although it looks valid: refreshed.
  post = [&](const std::string&, const Secret&) -> Result<TokenResponse> {
    ++requests;
    return TokenResponse{200, R"({"access_token":"at-3","expires_in":3599})"};
  };
  Secret refused("at-2");
  TokenPolicy renew;
  renew.refused_token = &refused;
  t = GetAccessToken(path, renew, post, &refreshed, now + 3600);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t.value().Reveal() == "at-3");
  BOOST_TEST(requests == 2);
  BOOST_TEST(refreshed);
  // Another delivery had at-2 refused too, but the store already holds a
  // newer token: that one is used, no second request.
  t = GetAccessToken(path, renew, post, &refreshed, now + 3600);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t.value().Reveal() == "at-3");
  BOOST_TEST(requests == 2);
  BOOST_TEST(!refreshed);
}

BOOST_AUTO_TEST_CASE(a_refused_refresh_defers_and_keeps_the_store) {
  Dir d;
  std::string path = d.path + "/store.json";
  BOOST_REQUIRE(WriteTokenStore(Sample(path, 0)).ok());
  TokenHttpPost post = [](const std::string&, const Secret&) -> Result<TokenResponse> {
    return TokenResponse{400, R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})"};
  };
  auto t = GetAccessToken(path, TokenPolicy{}, post);
  BOOST_REQUIRE(!t.ok());
  BOOST_TEST(t.failure().dsn() == "4.7.0");
  BOOST_TEST(t.failure().text() == "OAuth token refresh failed: invalid_grant: Token has been expired or revoked.");
  auto s = ReadTokenStore(path);
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().refresh_token.Reveal() == "rt-1");
  // Garbage from the endpoint is a refusal too, not a crash or an empty token.
  TokenHttpPost junk = [](const std::string&, const Secret&) -> Result<TokenResponse> {
    return TokenResponse{200, "<html>gateway timeout</html>"};
  };
  t = GetAccessToken(path, TokenPolicy{}, junk);
  BOOST_REQUIRE(!t.ok());
  BOOST_TEST(t.failure().text() == "OAuth token refresh failed: HTTP 200");
}

BOOST_AUTO_TEST_CASE(unsafe_or_broken_stores_are_refused_with_the_reason) {
  Dir d;
  std::string path = d.path + "/store.json";
  BOOST_REQUIRE(WriteTokenStore(Sample(path, 0)).ok());
  chmod(path.c_str(), 0640);
  auto s = ReadTokenStore(path);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.failure().detail().find("chmod 600") != std::string::npos);
  std::ofstream(path, std::ios::trunc) << "{ not json";
  chmod(path.c_str(), 0600);
  s = ReadTokenStore(path);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.failure().detail().find("not valid JSON") != std::string::npos);
  std::ofstream(path, std::ios::trunc) << R"({"client_id":"x"})";
  s = ReadTokenStore(path);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.failure().detail().find("token_endpoint and client_id are required") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(kill_9_while_replacing_the_store_leaves_a_usable_one) {
  Dir d;
  std::string path = d.path + "/store.json";
  BOOST_REQUIRE(WriteTokenStore(Sample(path, 0)).ok());
  std::mt19937 rng(42);
  for (int round = 0; round < 30; ++round) {
    pid_t child = fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
      // Rotate as fast as possible until killed.
      for (long i = 0;; ++i) {
        TokenStore s = Sample(path, i);
        s.refresh_token = Secret("rt-rotated-" + std::to_string(i));
        if (!WriteTokenStore(s).ok()) _exit(3);
      }
    }
    usleep(1000 + rng() % 20000);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    BOOST_REQUIRE(WIFSIGNALED(status));
    auto s = ReadTokenStore(path);
    BOOST_REQUIRE_MESSAGE(s.ok(), "round " << round << ": " << (s.ok() ? "" : s.failure().detail()));
    const std::string& rt = s.value().refresh_token.Reveal();
    BOOST_TEST((rt == "rt-1" || rt.rfind("rt-rotated-", 0) == 0), "round " << round << ": " << rt);
    // Leftover temporary files of killed writers are the only debris.
    for (const auto& e : std::filesystem::directory_iterator(d.path)) {
      if (e.path().filename().string().find(".tmp.") != std::string::npos) std::filesystem::remove(e.path());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
