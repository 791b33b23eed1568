// EHLO capabilities (RFC 5321 §4.1.1.1 and the extensions we use).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smtp/reply.h"

namespace authrelay {

struct Capabilities {
  bool starttls = false;
  bool pipelining = false;
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool enhanced_status_codes = false;
  bool dsn = false;                          // DSN (RFC 3461): ORCPT may be sent
  bool auth = false;
  bool size = false;                         // SIZE offered (with or without a limit)
  std::vector<std::string> auth_mechanisms;  // upper case, in server order, no duplicates
  std::optional<std::uint64_t> size_limit;   // SIZE N with N > 0
};

// Parses the lines of a 250 EHLO reply (the first line is the greeting).
// Unknown keywords are ignored; "AUTH=LOGIN PLAIN" (old form) counts.
Capabilities ParseEhlo(const Reply& reply);

}  // namespace authrelay
