#include "delivery/sasl_factory.h"

#include <unistd.h>

#include "core/secret.h"
#include "sasl/oauth_client.h"

namespace authrelay {

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
    *last_token = token.value().Clone();
    return std::unique_ptr<SaslClient>(
        std::make_unique<OAuthSaslClient>(cp->username, std::move(token).value(), host, port, refreshed));
  };
}

}  // namespace authrelay
