// --provider-profile=NAME: what the provider profile would change in
// main.cf, one tab-separated line per limit, for authrelay-setup to apply
// and show ("set"/"keep", parameter, value, current value, why), then
// "note" lines. ProfileWarnings: the same comparison for --check.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/main_cf.h"

namespace authrelay {

struct Options;

int RunProviderProfile(const std::string& name, const MainCf& cf);

// For a next hop --check recognises: (what, fix) per limit main.cf exceeds.
std::vector<std::pair<std::string, std::string>> ProfileWarnings(const MainCf& cf, const std::string& host);

}  // namespace authrelay
