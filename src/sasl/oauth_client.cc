#include "sasl/oauth_client.h"

#include <unistd.h>

#include <algorithm>

#include "core/sanitize.h"

namespace authrelay {

Result<SaslStep> OAuthSaslClient::Start(const std::vector<std::string>& mechanisms) {
  auto offered = [&](const char* name) {
    return std::any_of(mechanisms.begin(), mechanisms.end(), [&](const std::string& m) { return Lowercase(m) == name; });
  };
  SaslStep step;
  if (offered("oauthbearer")) {
    // RFC 7628 §3.1: gs2 header, then host, port and the bearer token.
    mechanism_ = "OAUTHBEARER";
    step.response = "n,a=" + username_ + ",\x01host=" + host_ + "\x01port=" + std::to_string(port_) +
                    "\x01" "auth=Bearer " + token_.Reveal() + "\x01\x01";
  } else if (offered("xoauth2")) {
    // https://developers.google.com/gmail/imap/xoauth2-protocol
    mechanism_ = "XOAUTH2";
    // ("\x01" "auth": a hex escape would swallow the "a".)
    step.response = "user=" + username_ + "\x01" "auth=Bearer " + token_.Reveal() + "\x01\x01";
  } else {
    return Failure("4.7.0", "no mechanism available",
                   "the credentials name an OAuth token store, but the server offers neither XOAUTH2 nor OAUTHBEARER");
  }
  step.mechanism = mechanism_;
  return step;
}

Result<std::string> OAuthSaslClient::Step(const std::string& challenge) {
  // Only one challenge exists in both protocols: the server's error report
  // ({"status":"401","schemes":"Bearer","scope":"..."}), after which it
  // waits for the client to give up before it sends its 5xx.
  last_error_ = Printable(challenge, 300);
  return mechanism_ == "OAUTHBEARER" ? std::string("\x01") : std::string();
}

SaslFactory MakeSaslFactory(const Credentials& creds, std::string host, std::uint16_t port,
                            long oauth_refresh_window, TokenHttpPost post) {
  // The token handed to the last client, so a renewal can say which one the
  // server refused.
  auto last_token = std::make_shared<Secret>();
  const Credentials* cp = &creds;
  return [cp, host = std::move(host), port, oauth_refresh_window, post = std::move(post), last_token](
             unsigned flags, bool renew) -> Result<std::unique_ptr<SaslClient>> {
    if (cp->oauth_store.empty()) {
      // A password file is read (an SES key derived) at each AUTH, so a
      // rotated secret is used without reloading anything.
      auto password = ResolvePassword(*cp, geteuid());
      if (!password.ok()) return password.failure();
      return NewCyrusSaslClient(host, cp->username, password.value(), flags);
    }
    TokenPolicy policy;
    policy.early_refresh_seconds = oauth_refresh_window;
    if (renew) policy.refused_token = last_token.get();
    bool refreshed = false;
    auto token = GetAccessToken(cp->oauth_store, policy, post, &refreshed);
    if (!token.ok()) return token.failure();
    *last_token = Secret(std::string(token.value().Reveal()));
    return std::unique_ptr<SaslClient>(
        std::make_unique<OAuthSaslClient>(cp->username, std::move(token).value(), host, port, refreshed));
  };
}

}  // namespace authrelay
