// Provider profiles: the Postfix-side limits that keep a relay inside what
// Gmail, Google's SMTP relay, Microsoft 365, Amazon SES and SendGrid
// publish. One table, used by `authrelay --provider-profile=NAME` (which
// authrelay-setup --provider=NAME applies) and by --check (which warns when
// main.cf goes beyond the profile of a next hop it recognises). Figures and
// their sources: docs/providers.md.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/main_cf.h"

namespace authrelay {

struct ProfileLimit {
  std::string_view parameter;  // main.cf name, e.g. authrelay_destination_recipient_limit
  long value;                  // in the parameter's unit (count, seconds, bytes)
  bool at_least;               // true: main.cf must be >= value (rate delay); false: <=
  std::string_view why;        // the published figure it follows
};

struct ProviderProfile {
  std::string_view name;   // --provider=NAME
  std::string_view title;  // "Microsoft 365 (SMTP AUTH client submission)"
  std::span<const ProfileLimit> limits;
  std::string_view notes;  // what is not set, and why
};

std::span<const ProviderProfile> ProviderProfiles();
const ProviderProfile* FindProviderProfile(std::string_view name);
// The profile of a next hop's host (smtp.gmail.com, smtp-relay.gmail.com,
// smtp.office365.com, email-smtp.REGION.amazonaws.com, smtp.sendgrid.net),
// or null.
const ProviderProfile* ProfileForHost(std::string_view host);

// The value Postfix uses for a limit parameter: main.cf's, else the
// default_* parameter it defaults to, else Postfix's built-in default.
// Times in seconds, sizes in bytes. -1 if it does not parse.
long EffectivePostfixLimit(const MainCf& cf, std::string_view parameter);

struct ProfileAdvice {
  std::string parameter;
  long current = 0;
  long wanted = 0;
  bool change = false;  // current is beyond the profile
  std::string why;
};
// Every limit of the profile against main.cf.
std::vector<ProfileAdvice> CompareWithProfile(const ProviderProfile& p, const MainCf& cf);

// How a value is written in main.cf ("2s" for the rate delay).
std::string FormatLimit(std::string_view parameter, long value);

}  // namespace authrelay
