// One-line fixes for failures admins meet again and again: provider
// replies (Gmail, Microsoft 365) and local mistakes. Used in the log line
// after a failure and in --check / --probe output.
#pragma once

#include <string>

#include "core/result.h"

namespace authrelay {

// The fix for this failure, or "" if none is known. port: the next hop's
// port (for TLS-mode hints on 465/587).
std::string RemedyFor(const Failure& failure, int port = 0);

}  // namespace authrelay
