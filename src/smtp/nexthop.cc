#include "smtp/nexthop.h"

#include <netdb.h>

#include <charconv>

#include "core/list.h"
#include "core/sanitize.h"

namespace authrelay {
namespace {

Failure BadNextHop(std::string_view hop, const std::string& why) {
  std::string what = "bad next hop \"" + Printable(hop, 200) + "\": " + why +
                     " (use [host]:port, e.g. [smtp.gmail.com]:587)";
  return ConfigFailure(what);
}

}  // namespace

std::uint16_t ServicePort(std::string_view service) {
  if (service.empty()) return 0;
  unsigned n = 0;
  auto [p, ec] = std::from_chars(service.data(), service.data() + service.size(), n);
  if (ec == std::errc() && p == service.data() + service.size()) {
    return n > 0 && n <= 65535 ? static_cast<std::uint16_t>(n) : 0;
  }
  std::string s = Lowercase(service);
  if (s == "smtp") return 25;
  if (s == "submission") return 587;
  if (s == "smtps" || s == "submissions") return 465;
  if (s == "lmtp") return 24;
  if (struct servent* se = getservbyname(s.c_str(), "tcp")) return ntohs(static_cast<std::uint16_t>(se->s_port));
  return 0;
}

Result<std::vector<NextHop>> ParseNextHops(std::string_view value) {
  std::vector<NextHop> hops;
  for (const std::string& item : SplitList(value)) {
    NextHop h;
    h.verbatim = item;
    std::string_view rest = item;
    if (rest.front() == '[') {
      auto close = rest.find(']');
      if (close == std::string_view::npos) return BadNextHop(item, "missing ']'");
      h.host = std::string(rest.substr(1, close - 1));
      h.bracketed = true;
      rest = rest.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') return BadNextHop(item, "text after ']' must be :port");
        h.service = std::string(rest.substr(1));
      }
      if (h.host.rfind("ipv6:", 0) == 0 || h.host.rfind("IPv6:", 0) == 0) h.host = h.host.substr(5);
    } else {
      auto colon = rest.rfind(':');
      if (colon != std::string_view::npos && rest.find(':') != colon) {
        return BadNextHop(item, "an IPv6 address must be in brackets");
      }
      h.host = std::string(rest.substr(0, colon));
      if (colon != std::string_view::npos) h.service = std::string(rest.substr(colon + 1));
    }
    if (h.host.empty()) return BadNextHop(item, "empty host name");
    for (unsigned char c : h.host) {
      if (c <= 0x20 || c == 0x7f || c == '/' || c == '@') return BadNextHop(item, "bad character in host name");
    }
    if (!h.service.empty()) {
      h.port = ServicePort(h.service);
      if (h.port == 0) return BadNextHop(item, "unknown port or service \"" + Printable(h.service, 40) + "\"");
    }
    hops.push_back(std::move(h));
  }
  if (hops.empty()) return BadNextHop(value, "empty next hop");
  return hops;
}

}  // namespace authrelay
