// authrelay-direct: the whole program. The front program (main.cc, the one
// master.cf runs) execs this one, with the same arguments, for every ops
// command and for a delivery that must connect to its server itself (no
// held session to reuse): TCP, TLS, SASL, OAuth, and holding the session
// afterwards. main() hardens the process, parses argv, runs the delivery or
// ops command, and prints the one status line.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/options.h"
#include "core/process.h"
#include "delivery/delivery.h"
#include "share/share.h"

int main(int argc, char** argv) {
  authrelay::HardenProcess();
  authrelay::share::RememberArgv(argc, argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  authrelay::Report report;
  try {
    auto options = authrelay::ParseOptions(args);
    if (!options.ok()) return authrelay::ReportBadOptions(options.failure());
    if (options.value().mode != authrelay::Mode::kDeliver) return authrelay::RunOpsCommand(options.value());
    authrelay::FdMessageSource message(STDIN_FILENO);
    const char* tried = std::getenv(authrelay::kHeldTriedEnv);
    bool held_tried = tried && std::string(tried) == "1";
    unsetenv(authrelay::kHeldTriedEnv);  // not for the holder or any child
    report = *authrelay::Deliver(options.value(), message, &authrelay::SystemDirectPath(), held_tried);
  } catch (...) {
    report = authrelay::InternalErrorReport();
  }
  std::fprintf(stdout, "%s\n", report.line.c_str());
  std::fflush(stdout);
  // pipe(8) ends the delivery at EOF on our stdout and our exit: the status
  // is out, so a held session's holder may detach now.
  authrelay::share::DetachHolder();
  return report.exit_code;
}
