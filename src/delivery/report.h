// The one line and exit code Postfix's pipe(8) reads (docs/DESIGN.md §2.2):
// "D.S.N text" and 75 (defer) or 69 (bounce); exit 0 with the server's
// reply on success.
#pragma once

#include <string>

#include "core/result.h"
#include "smtp/session.h"

namespace authrelay {

struct Report {
  std::string line;  // without newline; main prints it + '\n'
  int exit_code = 75;
  std::string dsn;  // the status leading the line ("2.0.0" on success)
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitBounce = 69;    // EX_UNAVAILABLE
inline constexpr int kExitTempFail = 75;  // EX_TEMPFAIL

// soft_bounce (Postfix's global switch) turns every bounce into a deferral.
Report FailureReport(const Failure& failure, bool soft_bounce = false);
Report SuccessReport(const std::string& server_reply);
// The report for a finished attempt: its reply when delivered, else its
// failure (a result with neither is our bug and defers).
Report ReportFor(const AttemptResult& result, bool soft_bounce = false);
// Our own bug (an exception that reached main, a state that cannot be): the
// mail defers, never bounces. what, if given, is said in parentheses.
Report InternalErrorReport(const std::string& what = "");

}  // namespace authrelay
