// Egress through a proxy: SOCKS5 (RFC 1928, user/password RFC 1929) or
// HTTP CONNECT. The server's *name* goes to the proxy (remote name
// resolution): a locked-down host often cannot resolve outside names, and
// the proxy's view of DNS is the one that reaches the server.
//
// Configuration: authrelay_proxy = URL for every next hop, and
// authrelay_proxy_maps = type:table keyed by the next hop verbatim, then the
// server host, whose value is a URL or "direct". Credentials
// (user:password@) are secrets: allowed only in the map (its file has the
// same ownership rules as the credentials map), never logged; a URL is
// shown without them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/deadline.h"
#include "core/result.h"
#include "core/secret.h"
#include "core/unique_fd.h"
#include "net/connection.h"

namespace authrelay {

struct ProxyConfig {
  enum class Kind { kSocks5, kHttpConnect } kind = Kind::kSocks5;
  std::string host;  // without brackets
  std::uint16_t port = 0;
  std::string username;
  Secret password;
  bool has_credentials = false;

  // "socks5 proxy.example.com:1080" (never the credentials).
  std::string Describe() const;
  // The URL for libcurl (CURLOPT_PROXY), credentials included; socks5h://
  // so that libcurl too lets the proxy resolve names. A secret.
  Secret CurlUrl() const;
};

// Parses "socks5://[user[:pass]@]host:port" or "http://[user[:pass]@]host:port"
// (host may be [v6]; user and pass percent-decoded). where names the setting
// in errors; allow_credentials is false for main.cf/authrelay.cf values.
// Failure 4.3.5 that never contains the password.
Result<ProxyConfig> ParseProxyUrl(std::string_view url, const std::string& where, bool allow_credentials);

// The proxy for one next hop and server host, or nullopt for a direct
// connection: authrelay_proxy_maps (next hop verbatim, then server host),
// else authrelay_proxy. A table error is a configuration Failure (defer).
Result<std::optional<ProxyConfig>> FindProxy(const std::string& global_url, const std::string& maps,
                                             const std::string& nexthop, const std::string& server_host);

// An Endpoint for a server reached through the proxy: its address is not
// known here (the proxy resolves it), so it reads "host[via proxy]".
Endpoint ProxiedEndpoint(const std::string& host, std::uint16_t port);

// Connects to the proxy (resolved and reached like any host, bind_address
// as for a direct connection) and asks it for target.host:target.port.
// Failures say which side refused: "connect to proxy ...", "proxy ...
// refused ...", or "... the server refused the connection (via proxy ...)".
Result<UniqueFd> ConnectViaProxy(const ProxyConfig& proxy, const Endpoint& target, Deadline deadline,
                                 const std::string& inet_protocols, const std::string& bind_address);

}  // namespace authrelay
