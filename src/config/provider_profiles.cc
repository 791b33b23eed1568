#include "config/provider_profiles.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace authrelay {
namespace {

constexpr std::string_view kConcurrency = "authrelay_destination_concurrency_limit";
constexpr std::string_view kRateDelay = "authrelay_destination_rate_delay";
constexpr std::string_view kRecipients = "authrelay_destination_recipient_limit";
constexpr std::string_view kSize = "message_size_limit";
constexpr long kMB = 1024L * 1024L;

constexpr std::array<ProfileLimit, 2> kGmail = {{
    {kRecipients, 100, false, "Gmail accepts at most 100 recipients per message sent over SMTP"},
    {kSize, 25 * kMB, false, "Gmail's message size limit is 25 MB"},
}};
constexpr std::array<ProfileLimit, 2> kGoogleRelay = {{
    {kRecipients, 100, false, "Google's SMTP relay accepts at most 100 recipients per SMTP transaction"},
    {kSize, 25 * kMB, false, "Gmail's message size limit (25 MB) applies to the relay too"},
}};
constexpr std::array<ProfileLimit, 4> kM365 = {{
    {kConcurrency, 2, false,
     "Microsoft 365 allows 3 concurrent SMTP AUTH connections per mailbox; 2 leaves one for the mailbox's other "
     "clients"},
    {kRateDelay, 2, true, "Microsoft 365 accepts 30 messages a minute per mailbox: one every 2 seconds"},
    {kRecipients, 500, false, "Microsoft 365 accepts at most 500 recipients per message"},
    {kSize, 35 * kMB, false, "Exchange Online's default maximum send size is 35 MB"},
}};
constexpr std::array<ProfileLimit, 3> kSes = {{
    {kRateDelay, 1, true,
     "Amazon SES limits messages per second per account (1 in the sandbox); shorten the delay only when AWS "
     "granted a higher rate"},
    {kRecipients, 50, false, "Amazon SES accepts at most 50 recipients per message"},
    {kSize, 40 * kMB, false, "Amazon SES accepts messages up to 40 MB (after encoding)"},
}};
constexpr std::array<ProfileLimit, 2> kSendGrid = {{
    {kRecipients, 1000, false, "SendGrid accepts at most 1,000 recipients per message"},
    {kSize, 30 * kMB, false, "SendGrid's total message size limit is 30 MB"},
}};

constexpr std::array<ProviderProfile, 5> kProfiles = {{
    {"gmail", "Gmail / Google Workspace (smtp.gmail.com)", kGmail,
     "not set: the daily limit (2,000 messages for Workspace, 500 for consumer accounts) is a quota, not a rate; "
     "Postfix defers when it is reached and authrelay says so"},
    {"google-relay", "Google Workspace SMTP relay (smtp-relay.gmail.com)", kGoogleRelay,
     "not set: the daily relay limit (10,000 recipients per user) is a quota; the peak rate is not published"},
    {"m365", "Microsoft 365 SMTP AUTH (smtp.office365.com)", kM365,
     "not set: 10,000 recipients a day per mailbox is a quota; with a rate delay Postfix sends to the destination "
     "one message at a time"},
    {"ses", "Amazon SES SMTP interface (email-smtp.REGION.amazonaws.com)", kSes,
     "not set: the daily quota (200 messages in the sandbox) is a quota, not a rate"},
    {"sendgrid", "Twilio SendGrid SMTP (smtp.sendgrid.net)", kSendGrid,
     "not set: SendGrid allows up to 5,000 messages per connection; authrelay sends one message per connection"},
}};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Postfix's defaults (postconf -d, 3.7) for the parameters the profiles use.
struct PostfixDefault {
  std::string_view parameter, fallback, builtin;
};
constexpr std::array<PostfixDefault, 4> kDefaults = {{
    {kConcurrency, "default_destination_concurrency_limit", "20"},
    {kRateDelay, "default_destination_rate_delay", "0s"},
    {kRecipients, "default_destination_recipient_limit", "50"},
    {kSize, "", "10240000"},
}};

long ParseLimit(std::string_view parameter, std::string_view raw) {
  long n = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), n);
  if (ec != std::errc()) return -1;
  std::string_view unit = raw.substr(static_cast<std::size_t>(p - raw.data()));
  if (parameter != kRateDelay) return unit.empty() ? n : -1;
  if (unit.empty() || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  if (unit == "d") return n * 86400;
  if (unit == "w") return n * 7 * 86400;
  return -1;
}

}  // namespace

std::span<const ProviderProfile> ProviderProfiles() { return kProfiles; }

const ProviderProfile* FindProviderProfile(std::string_view name) {
  for (const auto& p : kProfiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const ProviderProfile* ProfileForHost(std::string_view host_in) {
  std::string host = Lower(host_in);
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host == "smtp.gmail.com") return FindProviderProfile("gmail");
  if (host == "smtp-relay.gmail.com") return FindProviderProfile("google-relay");
  if (host == "smtp.office365.com") return FindProviderProfile("m365");
  if (host.rfind("email-smtp.", 0) == 0 && EndsWith(host, ".amazonaws.com")) return FindProviderProfile("ses");
  if (host == "smtp.sendgrid.net") return FindProviderProfile("sendgrid");
  return nullptr;
}

long EffectivePostfixLimit(const MainCf& cf, std::string_view parameter) {
  for (const auto& d : kDefaults) {
    if (d.parameter != parameter) continue;
    std::string value;
    if (cf.IsSet(parameter)) value = cf.Get(parameter);
    else if (!d.fallback.empty() && cf.IsSet(d.fallback)) value = cf.Get(d.fallback);
    else value = std::string(d.builtin);
    return ParseLimit(parameter, value);
  }
  return ParseLimit(parameter, cf.Get(parameter));
}

std::vector<ProfileAdvice> CompareWithProfile(const ProviderProfile& p, const MainCf& cf) {
  std::vector<ProfileAdvice> out;
  for (const ProfileLimit& l : p.limits) {
    ProfileAdvice a;
    a.parameter = std::string(l.parameter);
    a.current = EffectivePostfixLimit(cf, l.parameter);
    a.wanted = l.value;
    a.why = std::string(l.why);
    if (a.current < 0) a.change = true;
    else if (l.at_least) a.change = a.current < l.value;
    // 0 means "no limit" for message_size_limit and the recipient limit.
    else a.change = a.current == 0 || a.current > l.value;
    out.push_back(std::move(a));
  }
  return out;
}

std::string FormatLimit(std::string_view parameter, long value) {
  return std::to_string(value) + (parameter == kRateDelay ? "s" : "");
}

}  // namespace authrelay
