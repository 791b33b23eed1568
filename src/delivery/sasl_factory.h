// Wiring: which SASL client a delivery uses for its credentials. Lives in
// delivery because it joins three layers (credmap, oauth, sasl) that do not
// know each other.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "credmap/credentials.h"
#include "oauth/token_store.h"
#include "sasl/sasl_client.h"

namespace authrelay {

// The SASL client for one server and one set of credentials: Cyrus for a
// password; for an OAuth token store, an access token from it (refreshed at
// most once across concurrent deliveries) spoken as XOAUTH2/OAUTHBEARER.
// When the session asks to renew (the server refused a cached token), the
// refused token is named so the store is refreshed unless another delivery
// already has. creds must outlive the factory.
using SaslFactory = std::function<Result<std::unique_ptr<SaslClient>>(unsigned flags, bool renew)>;
SaslFactory MakeSaslFactory(const Credentials& creds, std::string host, std::uint16_t port,
                            long oauth_refresh_window, TokenHttpPost post);

}  // namespace authrelay
