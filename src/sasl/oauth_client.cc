#include "sasl/oauth_client.h"

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
    Secret r("n,a=" + username_ + ",\x01host=" + host_ + "\x01port=" + std::to_string(port_) + "\x01" "auth=Bearer ");
    r += token_.Reveal();
    r += "\x01\x01";
    step.response = std::move(r);
  } else if (offered("xoauth2")) {
    // https://developers.google.com/gmail/imap/xoauth2-protocol
    mechanism_ = "XOAUTH2";
    // ("\x01" "auth": a hex escape would swallow the "a".)
    Secret r("user=" + username_ + "\x01" "auth=Bearer ");
    r += token_.Reveal();
    r += "\x01\x01";
    step.response = std::move(r);
  } else {
    return Failure("4.7.0", "no mechanism available",
                   "the credentials name an OAuth token store, but the server offers neither XOAUTH2 nor OAUTHBEARER")
        .WithCause(Cause::kNoSaslMechanism);
  }
  step.mechanism = mechanism_;
  return step;
}

Result<Secret> OAuthSaslClient::Step(const std::string& challenge) {
  // Only one challenge exists in both protocols: the server's error report
  // ({"status":"401","schemes":"Bearer","scope":"..."}), after which it
  // waits for the client to give up before it sends its 5xx.
  last_error_ = Printable(challenge, 300);
  return mechanism_ == "OAUTHBEARER" ? Secret("\x01") : Secret();
}

}  // namespace authrelay
