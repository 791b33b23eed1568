// Provider throttle replies: the one table that recognises them.
//
// A reply that says "you sent too much" is a statement about the account,
// not about the message, so it always defers (class 4, exit 75) even when
// the server says 5xx: Gmail's "550 5.4.5 Daily user sending limit
// exceeded" would make smtp(8) bounce the mail, though the same mail goes
// out unchanged once the quota resets (README: deliberate differences).
// Each entry is keyed on reply code + enhanced code + a stable piece of the
// text (case-insensitive), and says which limit it is (a daily quota is
// told apart from a rate or concurrency limit) and what the admin can do.
// Figures and their sources: docs/providers.md.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "smtp/reply.h"

namespace authrelay {

enum class ThrottleKind { kRate, kDailyQuota, kConcurrency };

struct ThrottleReply {
  std::string_view provider;  // "Gmail", "Amazon SES", ...
  int code;                   // the reply code, e.g. 550
  std::string_view enhanced;  // "5.4.5"; "" = the server sends none
  std::string_view text;      // stable text, matched case-insensitively
  ThrottleKind kind;
  std::string_view limit;     // what was exceeded, with the figure
  std::string_view fix;       // what the admin can do
};

std::span<const ThrottleReply> ThrottleReplies();

// The entry this reply matches, or null.
const ThrottleReply* FindThrottleReply(const Reply& reply);

// said: the failure the session would report for this reply. A throttle
// reply turns it into a deferral (class 4) whose text names the limit and
// the fix; any other reply leaves it as it is.
Failure WithThrottle(Failure said, const Reply& reply);

std::string_view ThrottleKindName(ThrottleKind kind);

}  // namespace authrelay
