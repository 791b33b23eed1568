#include "core/process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace authrelay {

void HardenProcess() {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  umask(077);
  signal(SIGPIPE, SIG_IGN);
}

Status RefuseRoot() {
  if (geteuid() == 0) {
    return Failure("4.3.5", "mail system configuration error: authrelay must not run as root",
                   "authrelay refuses to deliver as root; set user= in the master.cf pipe entry "
                   "to an unprivileged account");
  }
  return {};
}

}  // namespace authrelay
