// Runs one invocation: a delivery (pipe(8) mode) or an ops command
// (--check, --lookup, --probe, --version). Wires config, tables, TLS, SASL
// and the SMTP session together; main() only calls these.
#pragma once

#include <string>

#include "cli/options.h"
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

// Delivery mode. Never prints; returns the line and exit code for main.
Report Deliver(const Options& options, MessageSource& message);

// Ops modes write human (or --json) output to stdout themselves and return
// the exit code, which follows the delivery table.
int RunOpsCommand(const Options& options);

}  // namespace authrelay
