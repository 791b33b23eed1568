// Logging through Boost.Log. Delivery mode: syslog (facility mail, ident
// authrelay, with the pid) by default, or a file (authrelay_log_file, used
// by tests). stdout/stderr are never a log sink in delivery mode: they are
// Postfix's bounce text.
//
// Lines follow smtp(8)'s words and are prefixed with the queue id. No
// caller may pass a secret: passwords and AUTH payloads never reach here
// (the session redacts transcripts before logging them).
#pragma once

#include <string>

namespace authrelay::log {

enum class Level { kDebug, kInfo, kWarning, kError };

struct Options {
  std::string file;        // "" = syslog
  bool to_stderr = false;  // ops modes with -v: mirror to stderr
  int verbose = 0;         // > 0 enables debug lines
  std::string ident = "authrelay";
};

void Init(const Options& options);
// Prefix for every following line, normally "QUEUEID: ".
void SetQueueId(const std::string& queue_id);
bool DebugEnabled();
void Write(Level level, const std::string& text);
// Lines written from now on are kept, not logged, until released (logged
// then, through the sink Init chose last) or discarded. For a run that may
// hand its work to another program which logs the same lines itself.
void HoldLines();
void ReleaseHeldLines();
void DiscardHeldLines();
// While one lives, lines are logged at once even when held: for what only
// this run can say (a held session it tried).
class Unheld {
 public:
  Unheld();
  ~Unheld();
  Unheld(const Unheld&) = delete;
  Unheld& operator=(const Unheld&) = delete;

 private:
  bool was_holding_;
};

inline void Debug(const std::string& t) {
  if (DebugEnabled()) Write(Level::kDebug, t);
}
inline void Info(const std::string& t) { Write(Level::kInfo, t); }
inline void Warning(const std::string& t) { Write(Level::kWarning, "warning: " + t); }
inline void Error(const std::string& t) { Write(Level::kError, "error: " + t); }

}  // namespace authrelay::log
