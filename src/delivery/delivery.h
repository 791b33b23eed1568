// Runs one invocation: a delivery (pipe(8) mode) or an ops command
// (--check, --lookup, --probe, --version). Wires config, tables, TLS, SASL
// and the SMTP session together; main() only calls these.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cli/options.h"
#include "config/settings.h"
#include "delivery/attempt.h"
#include "delivery/report.h"
#include "smtp/session.h"

namespace authrelay {

// Reads stdin until EOF or error.
class FdMessageSource final : public MessageSource {
 public:
  explicit FdMessageSource(int fd) : fd_(fd) {}
  long Read(char* buf, std::size_t len) override;

 private:
  int fd_;
};

// How this program connects to servers itself (delivery/direct.h).
struct DirectPath {
  std::function<std::unique_ptr<Connector>(const Settings&)> connector;
  std::function<DeliveryAttempt::SaslFactoryMaker(const Settings&)> sasl;
};
// authrelay's: TCP, TLS, Cyrus SASL, OAuth (defined in direct.cc).
const DirectPath& SystemDirectPath();

// Delivery mode. Never prints; returns the line and exit code for main.
// direct null (authrelay-reuse): delivers only over a held session;
// nullopt when the delivery needs a connection of its own, before anything
// was logged as its result or read from `message`.
// held_tried: authrelay-reuse already looked for a held session.
// started: when the run began (authrelay-reuse's start, for authrelay):
// the deadline counts from there, so the time authrelay-reuse spent on a
// held session is not given again after the exec.
std::optional<Report> Deliver(const Options& options, MessageSource& message, const DirectPath* direct,
                              bool held_tried = false,
                              std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now());
// The environment variable by which authrelay-reuse tells authrelay that
// it looked for a held session ("1").
inline constexpr const char* kHeldTriedEnv = "AUTHRELAY_HELD_TRIED";
// authrelay-reuse's start on the monotonic clock (nanoseconds), for
// authrelay's deadline.
inline constexpr const char* kStartedEnv = "AUTHRELAY_STARTED";
// Set by authrelay-reuse for the program it execs: an authrelay-reuse that
// finds it was exec'd so (authrelay is a link to it, or runs it) stops
// instead of exec'ing itself until Postfix's time limit.
inline constexpr const char* kFromFrontEnv = "AUTHRELAY_FROM_FRONT";

// Arguments that did not parse: prints the status line, and on a terminal
// the reason and the usage on stderr; returns the exit code. For the main()
// of both programs.
int ReportBadOptions(const Failure& failure);

// Ops modes write human (or --json) output to stdout themselves and return
// the exit code, which follows the delivery table.
int RunOpsCommand(const Options& options);

// Shared by delivery.cc and ops.cc.
struct Context;
void InitLogging(const Options& o, const std::string& file, bool to_stderr);
// One run through the next-hop list. *needs_direct (if given) is set when a
// held-only run (direct null) stopped where it had to connect itself.
AttemptResult Attempt(const Context& ctx, const Envelope& env, const std::string& nexthop, MessageSource& message,
                      Deadline deadline, bool dry_run, bool trace, const DirectPath* direct, bool* needs_direct,
                      const std::string& queue_id = "", const SharingConfig* sharing = nullptr);

}  // namespace authrelay
