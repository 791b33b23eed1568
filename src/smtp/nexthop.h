// Next-hop strings as Postfix passes them in ${nexthop} (docs/DESIGN.md
// §10): "[host]", "[host]:port", "[addr]:port", "host", "host:port",
// "host:service", and lists of these separated by commas or whitespace.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace authrelay {

struct NextHop {
  std::string verbatim;  // this element as written, the credentials/policy key
  std::string host;      // without brackets and port ("smtp.gmail.com", "::1")
  bool bracketed = false;  // [..]: no MX lookup
  std::uint16_t port = 25;
  std::string service;     // the port as written ("587", "submission"), "" if none
};

// Port for a service name or number: known_tcp_ports first (smtp=25,
// submission=587, smtps=submissions=465, lmtp=24), then /etc/services.
// Returns 0 if unknown.
std::uint16_t ServicePort(std::string_view service);

Result<std::vector<NextHop>> ParseNextHops(std::string_view value);

}  // namespace authrelay
