// Process hardening done first thing in main(): keep secrets out of core
// files, make created files private, turn SIGPIPE into EPIPE.
#pragma once

#include "core/result.h"

namespace authrelay {

void HardenProcess();

// Delivery must not run as root (pipe(8) never runs us as root; a human who
// does would read maps and create files with the wrong owner).
Status RefuseRoot();

}  // namespace authrelay
