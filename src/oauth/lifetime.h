// How long a token store's refresh token is likely to keep working. The
// providers do not say; their documented limits do:
//   Microsoft identity platform: a refresh token unused for 90 days dies
//     (AADSTS700082). Every refresh rotates it, so mail flowing keeps it
//     alive; a mailbox that sends nothing for three months does not.
//   Google: a refresh token unused for 6 months dies; one issued to an app
//     whose consent screen is in "Testing" status dies 7 days after issue.
//     A refresh that worked more than 7 days after issue proves the app is
//     published, so that limit is then dropped.
// Used by --oauth-status and by --check (authrelay_oauth_expiry_warning).
#pragma once

#include <ctime>
#include <string>

#include "oauth/token_store.h"

namespace authrelay {

struct RefreshTokenOutlook {
  long long dies_at = 0;  // unix time it is likely to stop working; 0 = no limit known
  std::string why;        // the rule, and how to keep it alive
};

// "google", "microsoft" or "": the store's provider field, else its token
// endpoint's host.
std::string ProviderOf(const TokenStore& store);

RefreshTokenOutlook RefreshTokenOutlookFor(const TokenStore& store);

}  // namespace authrelay
