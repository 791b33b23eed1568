#include "delivery/profile_ops.h"

#include <iostream>

#include "config/provider_profiles.h"
#include "delivery/report.h"

namespace authrelay {

int RunProviderProfile(const std::string& name, const MainCf& cf) {
  const ProviderProfile* p = FindProviderProfile(name);
  if (!p) {
    std::string known;
    for (const auto& q : ProviderProfiles()) known += (known.empty() ? "" : ", ") + std::string(q.name);
    std::cout << "4.3.5 unknown provider profile \"" << name << "\" (known: " << known << ")\n";
    return kExitTempFail;
  }
  std::cout << "profile\t" << p->name << "\t" << p->title << "\n";
  for (const ProfileAdvice& a : CompareWithProfile(*p, cf)) {
    std::cout << (a.change ? "set" : "keep") << "\t" << a.parameter << "\t"
              << FormatLimit(a.parameter, a.change ? a.wanted : a.current) << "\t"
              << (a.current < 0 ? std::string("?") : FormatLimit(a.parameter, a.current)) << "\t" << a.why << "\n";
  }
  std::cout << "note\t" << p->notes << "\n";
  return kExitOk;
}

std::vector<std::pair<std::string, std::string>> ProfileWarnings(const MainCf& cf, const std::string& host) {
  std::vector<std::pair<std::string, std::string>> out;
  const ProviderProfile* p = ProfileForHost(host);
  if (!p) return out;
  for (const ProfileAdvice& a : CompareWithProfile(*p, cf)) {
    if (!a.change) continue;
    out.emplace_back(std::string(host) + " is " + std::string(p->title) + ": " + a.parameter + " = " +
                         (a.current < 0 ? std::string("(unreadable)") : FormatLimit(a.parameter, a.current)) +
                         " goes beyond its profile (" + a.why + ")",
                     "postconf -e '" + a.parameter + " = " + FormatLimit(a.parameter, a.wanted) +
                         "' (or authrelay-setup --provider=" + std::string(p->name) + ")");
  }
  return out;
}

}  // namespace authrelay
