// XOAUTH2 through the real Session, Connection and TLS against a scripted
// server: the exact AUTH line, the error challenge Google sends for a bad
// token and the deferral that follows, and no token in the transcript.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>

#include "core/base64.h"
#include "delivery/sasl_factory.h"
#include "oauth/token_store.h"
#include "protocol/test_client.h"
#include "sasl/oauth_client.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

const std::string kToken = "ya29.protocol-test-token-Secret";

void UseOAuth(Client& c) {
  c.policy.sasl_factory = [](unsigned, bool) -> Result<std::unique_ptr<SaslClient>> {
    return std::unique_ptr<SaslClient>(
        // As if just issued: a refusal is final (renewal has its own tests).
        std::make_unique<OAuthSaslClient>("relay@example.com", Secret(kToken), "mx.test", 587, true));
  };
}

std::string XOAuth2Line(const std::string& token) {
  return "AUTH XOAUTH2 " + Base64Encode("user=relay@example.com\x01" "auth=Bearer " + token + "\x01\x01");
}

// A token store on disk holding access token `token` that expires in
// `valid_for` seconds, and the delivery's own SASL factory reading it, with
// a fake token endpoint that counts its requests and issues "at-renewed-N".
struct StoreFixture {
  std::string dir = "/tmp/authrelay-oauth-renew-" + std::to_string(getpid());
  std::string path = dir + "/store.json";
  int requests = 0;
  Credentials creds;
  StoreFixture(const std::string& token, long valid_for) {
    std::filesystem::create_directories(dir);
    TokenStore s;
    s.path = path;
    s.token_endpoint = "https://login.example/token";
    s.client_id = "client-1";
    s.refresh_token = Secret("rt-1");
    s.access_token = Secret(token);
    s.expires_at = std::time(nullptr) + valid_for;
    BOOST_REQUIRE(WriteTokenStore(s).ok());
    creds.username = "relay@example.com";
    creds.oauth_store = path;
  }
  ~StoreFixture() { std::filesystem::remove_all(dir); }
  void Use(Client& c) {
    c.creds = Credentials{};
    c.creds.username = creds.username;
    c.creds.oauth_store = creds.oauth_store;
    c.policy.sasl_factory = MakeSaslFactory(c.creds, "mx.test", 587, 300,
                                            [this](const std::string&, const Secret&) -> Result<TokenResponse> {
                                              ++requests;
                                              return TokenResponse{200, R"({"access_token":"at-renewed-)" +
                                                                            std::to_string(requests) +
                                                                            R"(","expires_in":3599})"};
                                            });
  }
  std::string StoredToken() {
    auto s = ReadTokenStore(path);
    BOOST_REQUIRE(s.ok());
    return s.value().access_token.Reveal();
  }
};

// Google's answer to a token it does not accept.
ScriptedServer& RefuseToken(ScriptedServer& s) {
  return s.Send("334 " + Base64Encode(R"({"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"})"))
      .Expect("").Send("535-5.7.8 Username and Password not accepted.").Send("535 5.7.8 BadCredentials");
}

// Runs a delivery against s, which refuses the token for good: deferred
// with the server's 4.7.8 after exactly one token request, client hung up.
void ExpectDeferredAfterOneRefresh(ScriptedServer& s, StoreFixture& store) {
  s.Start();
  Client c;
  store.Use(c);
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(!r.delivered);
  BOOST_REQUIRE(r.failure);
  BOOST_CHECK_EQUAL(r.failure->dsn(), "4.7.8");
  BOOST_CHECK_EQUAL(store.requests, 1);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oauth_session)

BOOST_AUTO_TEST_CASE(xoauth2_initial_response_then_mail) {
  std::string expected = "AUTH XOAUTH2 " + Base64Encode("user=relay@example.com\x01" "auth=Bearer " + kToken + "\x01\x01");
  ScriptedServer s;
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH LOGIN PLAIN XOAUTH2")
      .Expect(expected).Send("235 2.7.0 Accepted")
      .Expect("MAIL FROM:").Send("250 ok").Expect("RCPT TO:").Send("250 ok").Expect("DATA").Send("354 go")
      .ReadData().Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  s.Start();
  Client c;
  UseOAuth(c);
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(r.delivered);
  BOOST_CHECK_EQUAL(r.chosen_mechanism, "XOAUTH2");
  BOOST_CHECK_EQUAL(s.Finish(), "");
  std::string log = ReadFile(GlobalSetup::LogPath());
  BOOST_CHECK(log.find(kToken) == std::string::npos);
  BOOST_CHECK(log.find(expected.substr(13, 40)) == std::string::npos);  // nor its base64
}

BOOST_AUTO_TEST_CASE(refused_token_gets_the_empty_answer_and_defers) {
  // Google: 334 with a base64 JSON error, the client answers with an empty
  // line, then 535. With smtp_sasl_auth_soft_bounce (default) that defers.
  ScriptedServer s;
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH XOAUTH2")
      .Expect("AUTH XOAUTH2 ")
      .Send("334 " + Base64Encode(R"({"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"})"))
      .Expect("").Send("535-5.7.8 Username and Password not accepted.").Send("535 5.7.8 https://support.google.com/mail/?p=BadCredentials")
      .Expect("QUIT");  // smtp(8) says QUIT after a failed AUTH
  s.Start();
  Client c;
  UseOAuth(c);
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK(!r.delivered);
  BOOST_REQUIRE(r.failure);
  BOOST_CHECK_MESSAGE(r.failure->dsn() == "4.7.8", r.failure->dsn() + " " + r.failure->text() + " / " + r.failure->detail());
  BOOST_CHECK_NE(r.failure->text().find("SASL authentication failed"), std::string::npos);
  BOOST_CHECK_EQUAL(s.Finish(), "");
}

BOOST_AUTO_TEST_CASE(server_echoing_the_token_is_not_quoted) {
  // A server that repeats our AUTH line and the bare token in its refusal:
  // neither reaches the status line (the bounce text) or the log.
  ScriptedServer s;
  UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH XOAUTH2")
      .Expect("AUTH XOAUTH2 ").SendEcho("535-5.7.8 you sent ")
      .Send("535 5.7.8 token " + kToken + " revoked").Expect("QUIT");
  s.Start();
  Client c;
  UseOAuth(c);
  c.policy.auth_soft_bounce = false;
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK_EQUAL(s.Finish(), "");
  BOOST_REQUIRE(r.failure);
  BOOST_CHECK_EQUAL(r.failure->dsn(), "5.7.8");
  std::string blob = Base64Encode("user=relay@example.com\x01" "auth=Bearer " + kToken + "\x01\x01");
  std::string log = ReadFile(GlobalSetup::LogPath());
  for (const std::string& leak : {kToken, blob, blob.substr(10, 30)}) {
    BOOST_CHECK_MESSAGE(r.failure->text().find(leak) == std::string::npos, "status line: " << r.failure->text());
    BOOST_CHECK_MESSAGE(log.find(leak) == std::string::npos, "log leaks " << leak);
  }
}

BOOST_AUTO_TEST_CASE(a_cached_token_the_server_refuses_is_renewed_once_and_auth_retried) {
  // The clock says the cached token has an hour left, but the provider
  // revoked it: one refresh, a second AUTH on the same connection, mail.
  StoreFixture store("at-cached-revoked", 3600);
  ScriptedServer s;
  RefuseToken(UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH XOAUTH2")
                  .Expect(XOAuth2Line("at-cached-revoked")))
      .Expect(XOAuth2Line("at-renewed-1")).Send("235 2.7.0 Accepted")
      .Expect("MAIL FROM:").Send("250 ok").Expect("RCPT TO:").Send("250 ok").Expect("DATA").Send("354 go")
      .ReadData().Send("250 2.0.0 queued").Expect("QUIT").Send("221 bye");
  s.Start();
  Client c;
  store.Use(c);
  AttemptResult r = c.Run(s.port());
  BOOST_CHECK_MESSAGE(r.delivered, (r.failure ? r.failure->text() : std::string("?")));
  BOOST_CHECK_EQUAL(store.requests, 1);
  BOOST_CHECK_EQUAL(store.StoredToken(), "at-renewed-1");
  BOOST_CHECK_EQUAL(s.Finish(), "");
  std::string log = ReadFile(GlobalSetup::LogPath());
  BOOST_CHECK(log.find("refused the OAuth access token for relay@example.com") != std::string::npos);
  BOOST_CHECK(log.find("at-cached-revoked") == std::string::npos);
  BOOST_CHECK(log.find("at-renewed-1") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_renewed_token_refused_again_is_not_retried_a_third_time) {
  StoreFixture store("at-cached", 3600);
  ScriptedServer s;
  RefuseToken(RefuseToken(UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH XOAUTH2")
                              .Expect(XOAuth2Line("at-cached")))
                  .Expect(XOAuth2Line("at-renewed-1")))
      .Expect("QUIT");  // smtp(8) says QUIT after a failed AUTH
  ExpectDeferredAfterOneRefresh(s, store);
}

BOOST_AUTO_TEST_CASE(a_token_issued_for_this_delivery_is_not_refreshed_again_when_refused) {
  // Expired in the store: refreshed before AUTH. A refusal of that brand-new
  // token is the provider's verdict on the account, not a stale cache.
  StoreFixture store("at-expired", -10);
  ScriptedServer s;
  RefuseToken(UpToTls(s, "server").Expect("EHLO").Send("250-mx.test").Send("250 AUTH XOAUTH2")
                  .Expect(XOAuth2Line("at-renewed-1")))
      .Expect("QUIT");  // smtp(8) says QUIT after a failed AUTH
  ExpectDeferredAfterOneRefresh(s, store);
}

BOOST_AUTO_TEST_SUITE_END()
