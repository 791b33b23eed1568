// The token endpoint's HTTP client: libcurl, HTTPS only, the server
// verified against the same CAs as the SMTP server (smtp_tls_CAfile /
// smtp_tls_CApath, else the system store), no redirects, bounded time and
// size.
#pragma once

#include <string>

#include "oauth/token_store.h"

namespace authrelay {

TokenHttpPost MakeCurlPost(std::string ca_file, std::string ca_path, long timeout_seconds);

}  // namespace authrelay
