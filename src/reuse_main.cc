// authrelay-reuse: the program master.cf runs when connection sharing is on
// (docs/DESIGN.md §9). It links no TLS, SASL or HTTP code, so it starts
// without loading libssl, libcrypto or libsasl2: a delivery that reuses a
// held session (share/share.h) pays only for the configuration, the
// credential lookup that names the session, and the socket. Anything else
// -- an ops command, or a delivery that must connect to its server itself --
// execs authrelay (main.cc), the whole program, installed beside this one,
// with the same arguments; the message on stdin is still unread then.
// Without sharing, master.cf runs authrelay itself: one program start per
// delivery instead of two.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/options.h"
#include "core/process.h"
#include "delivery/delivery.h"
#include "log/log.h"

namespace {

constexpr const char* kDirectProgram = "authrelay";

// authrelay beside this program: beside its real path (so a symlink to it
// still finds its sibling), or, without /proc, beside the absolute path it
// was started by. Never a bare name: that would be looked up relative to
// the working directory. Empty if neither is known.
std::string DirectProgramPath(const char* argv0) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string path = n > 0 ? std::string(self, static_cast<std::size_t>(n)) : std::string(argv0 ? argv0 : "");
  if (path.empty() || path.front() != '/') return "";
  return path.substr(0, path.rfind('/') + 1) + kDirectProgram;
}

// When this run started, on the monotonic clock: authrelay's
// deadline counts from here (delivery.h, kStartedEnv).
const auto kStarted = std::chrono::steady_clock::now();

// Returns only if the exec failed: the report that says so. The status
// line names no local path; the log line does.
authrelay::Report ExecDirect(char** argv) {
  std::string path = DirectProgramPath(argv[0]);
  if (path.empty()) {
    authrelay::log::Error("cannot find authrelay: /proc/self/exe is unreadable and master.cf does not run "
                          "authrelay-reuse by its absolute path; use argv=/usr/libexec/authrelay/authrelay-reuse");
    return {"4.3.5 mail system configuration error: cannot find authrelay", authrelay::kExitTempFail, "4.3.5"};
  }
  setenv(authrelay::kFromFrontEnv, "1", 1);
  setenv(authrelay::kStartedEnv,
         std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(kStarted.time_since_epoch()).count())
             .c_str(),
         1);
  execv(path.c_str(), argv);
  std::string why = std::strerror(errno);
  authrelay::log::Error("cannot run " + path + ": " + why +
                        " (it is installed beside authrelay-reuse; reinstall the authrelay package)");
  return {"4.3.5 mail system configuration error: cannot run authrelay: " + why, authrelay::kExitTempFail,
          "4.3.5"};
}

// An authrelay that is this program again (a link to it, or a wrapper that
// runs it) would exec itself until Postfix's time limit, which bounces:
// defer at once instead.
authrelay::Report ExecLoop() {
  authrelay::log::Error("authrelay runs authrelay-reuse again (is it a link to authrelay-reuse?); "
                        "reinstall the authrelay package");
  return {"4.3.5 mail system configuration error: authrelay is not installed correctly",
          authrelay::kExitTempFail, "4.3.5"};
}

// stdin, counting what was read: the message may go to authrelay
// only if none of it was.
class CountingSource final : public authrelay::MessageSource {
 public:
  long Read(char* buf, std::size_t len) override {
    long n = fd_.Read(buf, len);
    if (n > 0) read_ += n;
    return n;
  }
  long read() const { return read_; }

 private:
  authrelay::FdMessageSource fd_{STDIN_FILENO};
  long read_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  authrelay::HardenProcess();
  std::vector<std::string> args(argv + 1, argv + argc);
  authrelay::Report report;
  try {
    auto options = authrelay::ParseOptions(args);
    if (!options.ok()) return authrelay::ReportBadOptions(options.failure());
    if (std::getenv(authrelay::kFromFrontEnv)) {
      if (options.value().mode == authrelay::Mode::kDeliver) authrelay::InitLogging(options.value(), "", false);
      report = ExecLoop();
      std::fprintf(stdout, "%s\n", report.line.c_str());
      return report.exit_code;
    }
    if (options.value().mode != authrelay::Mode::kDeliver) {
      report = ExecDirect(argv);
      std::fprintf(stdout, "%s\n", report.line.c_str());
      return report.exit_code;
    }
    // What this run logs is kept until it is known to be the delivery's:
    // authrelay, if it takes over, logs the same lines itself, except
    // about the held sessions tried here (logged at once, log::Unheld; it
    // does not try them again).
    authrelay::log::HoldLines();
    CountingSource message;
    auto result = authrelay::Deliver(options.value(), message, nullptr);
    if (result) {
      authrelay::log::ReleaseHeldLines();
      report = *result;
    } else if (message.read() == 0) {
      authrelay::log::DiscardHeldLines();
      setenv(authrelay::kHeldTriedEnv, "1", 1);
      report = ExecDirect(argv);
    } else {
      // Not reached today (a held session is given up only before DATA);
      // should that change, the message is no longer whole on stdin.
      authrelay::log::ReleaseHeldLines();
      authrelay::log::Error("a delivery over a held session was given up after reading the message; deferred");
      report = authrelay::InternalErrorReport("held session given up after the message was read");
    }
  } catch (...) {
    authrelay::log::ReleaseHeldLines();
    report = authrelay::InternalErrorReport();
  }
  std::fprintf(stdout, "%s\n", report.line.c_str());
  std::fflush(stdout);
  return report.exit_code;
}
