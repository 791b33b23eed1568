// MX lookup for next hops without brackets (RFC 5321 §5.1), through the
// system resolver (libresolv): hosts sorted by preference; no MX records
// means the domain itself is the host.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace authrelay {

struct MxHost {
  int preference = 0;
  std::string host;
};

// Failure 4.4.3 for a temporary resolver error, 4.4.4 for a name that does
// not exist (deferred too: the next hop is configured, so when in doubt we
// defer). An empty list never comes back: the fallback is {0, domain}.
Result<std::vector<MxHost>> LookupMx(const std::string& domain);

}  // namespace authrelay
