#include "delivery/report.h"

#include "core/sanitize.h"
#include "smtp/reply.h"

namespace authrelay {

Report InternalErrorReport(const std::string& what) {
  return FailureReport(Failure("4.3.0", "internal error in authrelay" + (what.empty() ? "" : " (" + what + ")")));
}

Report FailureReport(const Failure& failure, bool soft_bounce) {
  std::string dsn = failure.dsn();
  // Only a well-formed 4.x.x or 5.x.x may lead the line; anything else is
  // our bug, and our bugs defer.
  if (!IsValidDsn(dsn) || dsn[0] == '2') dsn = "4.3.0";
  if (soft_bounce && dsn[0] == '5') dsn[0] = '4';
  std::string text = Printable(failure.text().empty() ? "delivery failed" : failure.text(), 900);
  Report r;
  r.line = dsn + " " + text;
  r.dsn = dsn;
  r.exit_code = dsn[0] == '5' ? kExitBounce : kExitTempFail;
  return r;
}

Report ReportFor(const AttemptResult& result, bool soft_bounce) {
  if (result.delivered) return SuccessReport(result.final_reply);
  if (result.failure) return FailureReport(*result.failure, soft_bounce);
  return FailureReport(Failure("4.3.0", "delivery failed"), soft_bounce);
}

Report SuccessReport(const std::string& server_reply) {
  Report r;
  r.line = Printable(server_reply, 900);
  r.dsn = "2.0.0";
  r.exit_code = kExitOk;
  return r;
}

}  // namespace authrelay
