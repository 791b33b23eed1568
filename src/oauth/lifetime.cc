#include "oauth/lifetime.h"

#include <algorithm>

namespace authrelay {
namespace {

constexpr long long kDay = 86400;

bool HostIs(const std::string& url, const std::string& host) {
  std::string prefix = "https://" + host;
  return url.rfind(prefix, 0) == 0 && (url.size() == prefix.size() || url[prefix.size()] == '/' ||
                                       url[prefix.size()] == ':');
}

}  // namespace

std::string ProviderOf(const TokenStore& s) {
  if (!s.provider.empty()) return s.provider;
  if (HostIs(s.token_endpoint, "login.microsoftonline.com")) return "microsoft";
  if (HostIs(s.token_endpoint, "oauth2.googleapis.com") || HostIs(s.token_endpoint, "accounts.google.com")) {
    return "google";
  }
  return "";
}

RefreshTokenOutlook RefreshTokenOutlookFor(const TokenStore& s) {
  RefreshTokenOutlook o;
  if (s.grant_type != "refresh_token" || s.refresh_token.empty()) return o;
  long long issued = s.refresh_token_issued_at;
  long long last_use = std::max(s.refreshed_at, issued);
  if (last_use <= 0) return o;
  std::string provider = ProviderOf(s);
  if (provider == "microsoft") {
    o.dies_at = last_use + 90 * kDay;
    o.why = "Microsoft drops refresh tokens unused for 90 days; any delivery or --oauth-status --refresh "
            "after the access token expires renews it";
  } else if (provider == "google") {
    if (issued > 0 && s.refreshed_at < issued + 7 * kDay) {
      o.dies_at = issued + 7 * kDay;
      o.why = "if the Google Cloud app's consent screen is in Testing status, its refresh tokens die 7 days after "
              "issue; publish the app (In production) to lift that, or enrol again before then";
    } else {
      o.dies_at = last_use + 180 * kDay;
      o.why = "Google drops refresh tokens unused for 6 months; any delivery or --oauth-status --refresh after the "
              "access token expires counts as use";
    }
  }
  return o;
}

}  // namespace authrelay
