// The key of a shareable session: everything that makes an open,
// authenticated session fit for another message (see share.h).
#pragma once

#include <string>

#include "config/settings.h"
#include "credmap/credentials.h"
#include "net/connection.h"
#include "net/proxy.h"
#include "share/share.h"
#include "smtp/nexthop.h"
#include "tls/tls_client.h"

namespace authrelay::share {

// proxy: the egress proxy the session goes through (nullptr: direct).
KeyMaterial SessionKeyMaterial(const Settings& s, const NextHop& hop, const Endpoint& ep, const Credentials* creds,
                               const TlsPolicy& tls, bool wrappermode, const ProxyConfig* proxy);

}  // namespace authrelay::share
