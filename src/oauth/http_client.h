// The token endpoint's HTTP client: libcurl, HTTPS only, the server
// verified against the same CAs as the SMTP server (smtp_tls_CAfile /
// smtp_tls_CApath, else the system store), no redirects, bounded time and
// size.
#pragma once

#include <memory>
#include <string>

#include "core/deadline.h"
#include "core/secret.h"

#include "oauth/token_store.h"

namespace authrelay {

// proxy: libcurl's CURLOPT_PROXY (the same proxy as the SMTP connection;
// it holds credentials, hence a Secret), or null for a direct connection.
TokenHttpPost MakeCurlPost(std::string ca_file, std::string ca_path, long timeout_seconds,
                           std::shared_ptr<const Secret> proxy = nullptr);

// The same, each request given what is left before `deadline` (at most
// timeout_seconds), and refused when less than a second is left: a token
// fetched late in a delivery (a refused token renewed after AUTH) must not
// keep the run past its own deadline.
TokenHttpPost MakeCurlPostWithin(std::string ca_file, std::string ca_path, long timeout_seconds,
                                 std::shared_ptr<const Secret> proxy, Deadline deadline);

}  // namespace authrelay
