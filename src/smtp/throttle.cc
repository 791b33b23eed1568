#include "smtp/throttle.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace authrelay {
namespace {

// Most specific entries first: the first match wins.
constexpr std::array<ThrottleReply, 9> kThrottleReplies = {{
    {"Microsoft 365", 432, "4.3.2", "concurrent connections limit exceeded", ThrottleKind::kConcurrency,
     "Microsoft 365: 3 concurrent connections per mailbox",
     "authrelay_destination_concurrency_limit = 2 in main.cf (authrelay-setup --provider=m365), and fewer other "
     "clients on this mailbox"},
    {"Microsoft 365", 432, "4.3.2", "sender thread limit exceeded", ThrottleKind::kConcurrency,
     "Microsoft 365: 3 concurrent connections per mailbox",
     "authrelay_destination_concurrency_limit = 2 in main.cf (authrelay-setup --provider=m365), and fewer other "
     "clients on this mailbox"},
    {"Microsoft 365", 554, "5.2.0", "SubmissionQuotaExceededException", ThrottleKind::kDailyQuota,
     "Microsoft 365: 10,000 recipients a day per mailbox",
     "the mail stays queued and goes out as the 24-hour window moves; spread the sending over more mailboxes"},
    {"Google SMTP relay", 550, "5.4.5", "Daily SMTP relay limit exceeded", ThrottleKind::kDailyQuota,
     "Google SMTP relay: daily relay limit (10,000 recipients a day per user)",
     "the mail stays queued and goes out when the rolling 24-hour window allows; ask Google for more or spread "
     "the senders"},
    {"Google SMTP relay", 450, "4.2.1", "Peak SMTP relay limit exceeded", ThrottleKind::kRate,
     "Google SMTP relay: peak relay rate",
     "authrelay_destination_rate_delay = 1s in main.cf (authrelay-setup --provider=google-relay)"},
    {"Gmail", 550, "5.4.5", "Daily user sending limit exceeded", ThrottleKind::kDailyQuota,
     "Gmail: daily sending limit (2,000 messages a day for Google Workspace, 500 for consumer accounts)",
     "the mail stays queued and goes out when the rolling 24-hour window allows; send from more accounts or use "
     "smtp-relay.gmail.com"},
    {"Gmail", 421, "4.7.0", "Try again later", ThrottleKind::kRate, "Gmail: sending rate (unpublished figure)",
     "authrelay_destination_concurrency_limit = 2 and authrelay_destination_rate_delay = 1s in main.cf "
     "(authrelay-setup --provider=gmail)"},
    {"Amazon SES", 454, "", "Throttling failure: Maximum sending rate exceeded", ThrottleKind::kRate,
     "Amazon SES: the account's maximum sending rate (messages per second)",
     "authrelay_destination_rate_delay = 1s in main.cf (authrelay-setup --provider=ses), or ask AWS to raise the "
     "rate"},
    {"Amazon SES", 454, "", "Throttling failure: Daily message quota exceeded", ThrottleKind::kDailyQuota,
     "Amazon SES: the account's daily sending quota (200 messages a day in the sandbox)",
     "the mail stays queued and goes out when the 24-hour window allows; ask AWS to raise the quota"},
}};

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// The reply's own enhanced code, as sent (Reply::dsn falls back to X.0.0
// when there is none, which must not match an entry that names one).
bool HasEnhanced(const Reply& reply, std::string_view enhanced) {
  if (reply.lines.empty()) return enhanced.empty();
  const std::string& last = reply.lines.back();
  std::string_view rest = last.size() > 4 ? std::string_view(last).substr(4) : std::string_view();
  std::string sent = EnhancedCodeAt(rest, reply.cls());
  return sent == enhanced;
}

}  // namespace

std::span<const ThrottleReply> ThrottleReplies() { return kThrottleReplies; }

std::string_view ThrottleKindName(ThrottleKind kind) {
  switch (kind) {
    case ThrottleKind::kRate: return "rate limit";
    case ThrottleKind::kDailyQuota: return "daily quota";
    case ThrottleKind::kConcurrency: return "concurrency limit";
  }
  return "limit";
}

const ThrottleReply* FindThrottleReply(const Reply& reply) {
  const std::string text = reply.Text();
  for (const ThrottleReply& t : kThrottleReplies) {
    if (t.code == reply.code && HasEnhanced(reply, t.enhanced) && ContainsNoCase(text, t.text)) return &t;
  }
  return nullptr;
}

Failure WithThrottle(Failure said, const Reply& reply) {
  const ThrottleReply* t = FindThrottleReply(reply);
  if (!t) return said;
  // A provider's limit is not a verdict on the message: class 4 whatever
  // the server's code, and the cause says so (remedies add nothing).
  std::string dsn = said.dsn();
  if (!dsn.empty()) dsn[0] = '4';
  return Failure(dsn,
                 said.text() + "; " + std::string(ThrottleKindName(t->kind)) + " reached (" + std::string(t->limit) +
                     "): deferred, Postfix retries; fix: " + std::string(t->fix),
                 said.bare_detail())
      .WithFix(said.fix())
      .WithReply(said.server_reply(), Cause::kProviderLimit);
}

}  // namespace authrelay
