#include "smtp/ehlo.h"

#include <algorithm>
#include <charconv>

#include "core/sanitize.h"

namespace authrelay {

Capabilities ParseEhlo(const Reply& reply) {
  Capabilities caps;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view line = reply.lines[i];
    if (line.size() <= 4) continue;
    std::string_view rest = line.substr(4);
    auto sp = rest.find_first_of(" =");
    std::string keyword;
    for (char c : rest.substr(0, sp)) keyword.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    std::string_view params = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    if (keyword == "STARTTLS") caps.starttls = true;
    else if (keyword == "PIPELINING") caps.pipelining = true;
    else if (keyword == "8BITMIME") caps.eightbitmime = true;
    else if (keyword == "SMTPUTF8") caps.smtputf8 = true;
    else if (keyword == "ENHANCEDSTATUSCODES") caps.enhanced_status_codes = true;
    else if (keyword == "DSN") caps.dsn = true;
    else if (keyword == "SIZE") {
      caps.size = true;
      std::string_view p = Trim(params);
      std::uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
      if (ec == std::errc() && ptr == p.data() + p.size() && n > 0) caps.size_limit = n;
    } else if (keyword == "AUTH") {
      caps.auth = true;
      std::string mech;
      auto flush = [&] {
        if (!mech.empty() && std::find(caps.auth_mechanisms.begin(), caps.auth_mechanisms.end(), mech) ==
                                 caps.auth_mechanisms.end() &&
            caps.auth_mechanisms.size() < 64) {
          caps.auth_mechanisms.push_back(mech);
        }
        mech.clear();
      };
      for (char c : params) {
        if (c == ' ' || c == '\t') {
          flush();
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
          if (mech.size() < 40) mech.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        }
      }
      flush();
    }
  }
  return caps;
}

}  // namespace authrelay
