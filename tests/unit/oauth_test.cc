// OAuth pieces that need no network: the map value syntax, the XOAUTH2 and
// OAUTHBEARER messages, the token store's refresh logic (with a fake token
// endpoint), and that a store replaced while the writer is killed -9 is
// always whole.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include <sstream>

#include "credmap/credentials.h"
#include "oauth/enrol.h"
#include "oauth/http_client.h"
#include "oauth/lifetime.h"
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
  BOOST_TEST(s.value().response->Reveal() == std::string("user=user@example.com\x01" "auth=Bearer ya29.tok\x01\x01"));
  // Google's error challenge is answered with an empty response.
  auto r = x.Step(R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().empty());
  BOOST_TEST(x.last_error().find("\"status\":\"401\"") != std::string::npos);

  OAuthSaslClient b("user@example.com", Secret("tok"), "smtp.example.com", 465);
  s = b.Start({"XOAUTH2", "OAUTHBEARER"});
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().mechanism == "OAUTHBEARER");  // the standard one when both are offered
  BOOST_TEST(s.value().response->Reveal() ==
             std::string("n,a=user@example.com,\x01host=smtp.example.com\x01port=465\x01" "auth=Bearer tok\x01\x01"));
  r = b.Step(R"({"status":"invalid_token"})");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().Reveal() == "\x01");  // RFC 7628 §3.2.3

  OAuthSaslClient none("u", Secret("t"), "h", 25);
  auto n = none.Start({"PLAIN", "LOGIN"});
  BOOST_REQUIRE(!n.ok());
  BOOST_TEST(n.failure().detail().find("neither XOAUTH2 nor OAUTHBEARER") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(store_json_has_numbers_as_numbers_and_slashes_unescaped) {
  TokenStore s = Sample("/x/store.json", 1'800'003'600);
  s.refresh_token_issued_at = 1'799'000'000;
  std::string text = TokenStoreJson(s).Reveal();
  BOOST_TEST(text.find(R"("expires_at": 1800003600)") != std::string::npos, text);
  BOOST_TEST(text.find(R"("refreshed_at": 1000)") != std::string::npos, text);
  BOOST_TEST(text.find(R"("refresh_token_issued_at": 1799000000)") != std::string::npos, text);
  BOOST_TEST(text.find(R"("token_endpoint": "https://login.example/token")") != std::string::npos, text);
  BOOST_TEST(text.find("\\/") == std::string::npos, text);
  auto back = ParseTokenStore("/x/store.json", text);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back.value().expires_at == 1'800'003'600);
  BOOST_TEST(back.value().refresh_token.Reveal() == "rt-1");
}

// A store exactly as the Boost.PropertyTree writer left it: every number a
// string, every '/' escaped. Stores enrolled before the JSON library change
// must keep working.
BOOST_AUTO_TEST_CASE(old_store_with_numbers_as_strings_still_reads) {
  const std::string old = R"({
    "token_endpoint": "https:\/\/oauth2.googleapis.com\/token",
    "client_id": "123.apps.googleusercontent.com",
    "client_secret": "cs-old",
    "grant_type": "refresh_token",
    "refresh_token": "1\/\/0g-old",
    "access_token": "ya29.old",
    "expires_at": "1796013837",
    "refreshed_at": "1796010238",
    "refresh_token_issued_at": "1795000000",
    "provider": "google"
}
)";
  auto s = ParseTokenStore("/x/old.json", old);
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().token_endpoint == "https://oauth2.googleapis.com/token");
  BOOST_TEST(s.value().refresh_token.Reveal() == "1//0g-old");
  BOOST_TEST(s.value().expires_at == 1796013837);
  BOOST_TEST(s.value().refreshed_at == 1796010238);
  BOOST_TEST(s.value().refresh_token_issued_at == 1795000000);
  // Written back: numbers now.
  std::string text = TokenStoreJson(s.value()).Reveal();
  BOOST_TEST(text.find(R"("expires_at": 1796013837)") != std::string::npos, text);
  // Not JSON, or not an object: a clear refusal.
  auto bad = ParseTokenStore("/x/bad.json", "{\"token_endpoint\": ");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.failure().detail().find("not valid JSON") != std::string::npos);
  BOOST_TEST(!ParseTokenStore("/x/arr.json", "[1]").ok());
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

BOOST_AUTO_TEST_SUITE(oauth_enrol)

BOOST_AUTO_TEST_CASE(pkce_challenge_is_rfc_7636_appendix_b) {
  BOOST_TEST(PkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

BOOST_AUTO_TEST_CASE(the_code_comes_from_a_pasted_address_or_alone) {
  auto c = CodeFromPasted("http://localhost/?state=s1&code=4%2F0AfJ-x%2By&scope=https%3A%2F%2Fmail.google.com%2F", "s1");
  BOOST_REQUIRE(c.ok());
  BOOST_TEST(c.value() == "4/0AfJ-x+y");
  c = CodeFromPasted("4/0AfJ-bare", "s1");
  BOOST_REQUIRE(c.ok());
  BOOST_TEST(c.value() == "4/0AfJ-bare");
  c = CodeFromPasted("http://localhost/?state=other&code=4%2Fx", "s1");
  BOOST_REQUIRE(!c.ok());
  BOOST_TEST(c.failure().text().find("another sign-in") != std::string::npos);
  c = CodeFromPasted("http://localhost/?error=access_denied&state=s1", "s1");
  BOOST_REQUIRE(!c.ok());
  BOOST_TEST(c.failure().text().find("refused the sign-in: access_denied") != std::string::npos);
  c = CodeFromPasted("http://localhost/?state=s1", "s1");
  BOOST_REQUIRE(!c.ok());
  BOOST_TEST(c.failure().text().find("no code=") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(provider_defaults_and_usage_errors) {
  // (Secret cannot be copied, so each case builds its own request.)
  auto make = [](const std::string& provider, const std::string& flow = "") {
    EnrolRequest r;
    r.store_path = "/var/lib/authrelay/store.json";
    r.client_id = "app";
    r.provider = provider;
    r.flow = flow;
    if (flow == "client-credentials") {
      r.tenant = "contoso.onmicrosoft.com";
      r.client_secret = Secret("s");
    }
    return r;
  };
  auto m = CompleteEnrolRequest(make("microsoft"));
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(m.value().flow == "device");
  BOOST_TEST(m.value().device_endpoint == "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
  BOOST_TEST(m.value().scope == "offline_access https://outlook.office.com/SMTP.Send");
  auto g = CompleteEnrolRequest(make("google"));
  BOOST_REQUIRE(g.ok());
  BOOST_TEST(g.value().flow == "code");
  BOOST_TEST(g.value().token_endpoint == "https://oauth2.googleapis.com/token");
  BOOST_TEST(g.value().scope == "https://mail.google.com/");
  BOOST_TEST(g.value().redirect_uri == "http://localhost");
  auto app = CompleteEnrolRequest(make("microsoft", "client-credentials"));
  BOOST_REQUIRE(app.ok());
  BOOST_TEST(app.value().scope == "https://outlook.office365.com/.default");
  BOOST_TEST(app.value().token_endpoint == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  struct Bad {
    std::function<void(EnrolRequest&)> change;
    const char* says;
  };
  for (const Bad& b : std::vector<Bad>{
           {[](EnrolRequest& x) { x.store_path = "relative.json"; }, "absolute path"},
           {[](EnrolRequest& x) { x.client_id.clear(); }, "--client-id is required"},
           {[](EnrolRequest& x) { x.tenant = "../evil"; }, "--tenant must be"},
           {[](EnrolRequest& x) { x.tenant.clear(); }, "needs --tenant"},
           {[](EnrolRequest& x) { x.client_secret = Secret(""); }, "needs --client-secret-file"},
           {[](EnrolRequest& x) { x.provider = "yahoo"; }, "--provider must be"},
           {[](EnrolRequest& x) { x.token_endpoint = "http://plain/token"; }, "https://"},
           {[](EnrolRequest& x) { x.flow = "implicit"; }, "--flow must be"},
       }) {
    EnrolRequest x = make("microsoft", "client-credentials");
    b.change(x);
    auto f = CompleteEnrolRequest(std::move(x));
    BOOST_REQUIRE_MESSAGE(!f.ok(), b.says);
    BOOST_TEST(f.failure().text().find(b.says) != std::string::npos, f.failure().text());
  }
}

BOOST_AUTO_TEST_CASE(device_flow_polls_politely_and_saves_the_refresh_token) {
  EnrolRequest request;
  request.store_path = "/x/store.json";
  request.provider = "microsoft";
  request.client_id = "app";
  auto completed = CompleteEnrolRequest(std::move(request));
  BOOST_REQUIRE(completed.ok());
  const EnrolRequest& r = completed.value();
  std::vector<std::string> answers = {
      R"({"error":"authorization_pending"})", R"({"error":"slow_down"})", R"({"error":"authorization_pending"})",
      R"({"access_token":"at-1","expires_in":3600,"refresh_token":"rt-1"})"};
  std::size_t polls = 0;
  std::vector<long> sleeps;
  std::time_t now = 1'800'000'000;
  TokenHttpPost post = [&](const std::string& url, const Secret& form) -> Result<TokenResponse> {
    if (url == r.device_endpoint) {
      BOOST_TEST(form.Reveal() == "client_id=app&scope=offline_access+https%3A%2F%2Foutlook.office.com%2FSMTP.Send");
      return TokenResponse{200, R"({"device_code":"dc","user_code":"ABC-DEF","verification_uri":"https://microsoft.com/devicelogin","interval":5,"expires_in":900})"};
    }
    BOOST_TEST(form.Reveal().find("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code") == 0u);
    const std::string& a = answers.at(polls++);
    return TokenResponse{a.find("error") != std::string::npos ? 400 : 200, a};
  };
  std::istringstream in;
  std::ostringstream out;
  auto store = Enrol(r, post, EnrolIo{in, out, [&](long s) { sleeps.push_back(s); now += s; }, [&] { return now; }});
  BOOST_REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.failure().text()));
  BOOST_TEST(polls == 4u);
  BOOST_TEST((sleeps == std::vector<long>{5, 5, 10, 10}));  // slow_down: 5 s more from then on (RFC 8628 §3.5)
  BOOST_TEST(out.str().find("open https://microsoft.com/devicelogin in any browser and enter the code ABC-DEF") !=
             std::string::npos);
  BOOST_TEST(store.value().refresh_token.Reveal() == "rt-1");
  BOOST_TEST(store.value().refresh_token_issued_at == now);
  BOOST_TEST(out.str().find("at-1") == std::string::npos);
  BOOST_TEST(out.str().find("rt-1") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(refresh_token_outlook_follows_each_providers_rule) {
  TokenStore s = Sample("/x", 0);
  const long long day = 86400, t0 = 1'800'000'000;
  s.refresh_token_issued_at = t0;
  s.refreshed_at = t0 + day;
  s.token_endpoint = "https://login.microsoftonline.com/common/oauth2/v2.0/token";
  BOOST_TEST(RefreshTokenOutlookFor(s).dies_at == t0 + day + 90 * day);
  s.token_endpoint = "https://oauth2.googleapis.com/token";
  BOOST_TEST(RefreshTokenOutlookFor(s).dies_at == t0 + 7 * day);  // maybe a Testing app
  s.refreshed_at = t0 + 8 * day;                                  // worked after day 7: published
  BOOST_TEST(RefreshTokenOutlookFor(s).dies_at == t0 + 8 * day + 180 * day);
  s.token_endpoint = "https://oauth2.googleapis.com.evil.example/token";
  BOOST_TEST(RefreshTokenOutlookFor(s).dies_at == 0);
  s.grant_type = "client_credentials";
  s.provider = "microsoft";
  BOOST_TEST(RefreshTokenOutlookFor(s).dies_at == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(oauth_form)

// A form with a secret in it is built inside a Secret, byte for byte what
// FormEncode would have made.
BOOST_AUTO_TEST_CASE(form_append_matches_form_encode) {
  Secret form;
  FormAppend(form, "grant_type", "refresh_token");
  FormAppend(form, "client_secret", "s3cr3t +/&=~é");
  FormAppend(form, "scope", "https://mail.google.com/ offline");
  BOOST_TEST(form.Reveal() == "grant_type=refresh_token&client_secret=" + FormEncode("s3cr3t +/&=~é") +
                                  "&scope=" + FormEncode("https://mail.google.com/ offline"));
  BOOST_TEST(form.Reveal().find("s3cr3t+%2B%2F%26%3D~%C3%A9") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// A token endpoint that accepts the connection and never answers cannot keep
// a delivery past its deadline: the request gets what is left of it (not
// the 30 seconds a refresh may otherwise take), and none is made when less
// than a second is left.
BOOST_AUTO_TEST_SUITE(oauth_http_deadline)

BOOST_AUTO_TEST_CASE(a_silent_token_endpoint_ends_at_the_deadline) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
  BOOST_REQUIRE(listen(fd, 4) == 0);  // the kernel completes the handshake; nobody ever answers
  socklen_t len = sizeof sin;
  BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0);
  const std::string url = "https://127.0.0.1:" + std::to_string(ntohs(sin.sin_port)) + "/token";

  auto start = std::chrono::steady_clock::now();
  auto r = MakeCurlPostWithin("", "", 30, nullptr, Deadline::AfterSeconds(2))(url, Secret("grant_type=x"));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  BOOST_TEST(!r.ok());
  if (!r.ok()) BOOST_TEST(r.failure().text().find("cannot start the HTTP client") == std::string::npos);
  BOOST_TEST(took.count() < 4000, "took " << took.count() << " ms");

  start = std::chrono::steady_clock::now();
  r = MakeCurlPostWithin("", "", 30, nullptr, Deadline::After(std::chrono::milliseconds(500)))(url, Secret("grant_type=x"));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.failure().dsn() == "4.4.2");
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count() < 200);
  close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
