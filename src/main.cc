// authrelay: the whole program, and the one master.cf runs (docs/DESIGN.md
// §9): TCP, TLS, SASL, OAuth, held sessions (using one, and holding the
// session afterwards), and the ops commands. main() hardens the process,
// parses argv, runs the delivery or ops command, and prints the one status
// line. With connection sharing on, master.cf may run authrelay-reuse
// (reuse_main.cc) instead, which execs this program, with the same
// arguments, for whatever it cannot do over a held session.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cli/options.h"
#include "core/process.h"
#include "delivery/delivery.h"
#include "share/share.h"

namespace {

using Clock = std::chrono::steady_clock;

// What authrelay-reuse said through the environment when it exec'd us
// (nothing, when master.cf runs this program).
struct Handover {
  bool held_tried = false;         // it looked for a held session
  Clock::time_point started;       // when the run began (now, if not told)
};

// Reads and removes authrelay-reuse's variables (they are for this
// process only: not for the holder, postqueue or any other child). Only a
// start in the past is taken: a caller's value can shorten the run's
// deadline, never lengthen it.
Handover TakeHandover() {
  Handover h;
  h.started = Clock::now();
  const char* tried = std::getenv(authrelay::kHeldTriedEnv);
  h.held_tried = tried && std::string(tried) == "1";
  if (const char* text = std::getenv(authrelay::kStartedEnv)) {
    long long ns = 0;
    auto [end, ec] = std::from_chars(text, text + std::strlen(text), ns);
    if (ec == std::errc() && *end == '\0' && ns >= 0) {
      Clock::time_point started{std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns))};
      h.started = std::min(started, h.started);
    }
  }
  for (const char* name : {authrelay::kHeldTriedEnv, authrelay::kStartedEnv, authrelay::kFromFrontEnv}) {
    unsetenv(name);
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  authrelay::HardenProcess();
  const Handover handover = TakeHandover();
  authrelay::share::RememberArgv(argc, argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  authrelay::Report report;
  try {
    auto options = authrelay::ParseOptions(args);
    if (!options.ok()) return authrelay::ReportBadOptions(options.failure());
    if (options.value().mode != authrelay::Mode::kDeliver) return authrelay::RunOpsCommand(options.value());
    authrelay::FdMessageSource message(STDIN_FILENO);
    report = *authrelay::Deliver(options.value(), message, &authrelay::SystemDirectPath(), handover.held_tried,
                                 handover.started);
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
