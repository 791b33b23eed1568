// postmap source text and credential values.
#include <cstdint>
#include <string>
#include <string_view>

#include "credmap/credentials.h"
#include "credmap/map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto entries = authrelay::ParsePostmapSource(in);
  for (auto& [k, v] : entries) {
    if (k.empty()) __builtin_trap();
    authrelay::Credentials c = authrelay::SplitCredentialValue(authrelay::Secret(v));
    if (c.username.find(':') != std::string::npos) __builtin_trap();
    // A password kept outside the map (user:file:/path, KEY:ses-key:...):
    // nothing of the value may be taken for a password, and no store.
    if (c.PasswordOutsideMap()) {
      if (!c.password.empty() || !c.oauth_store.empty()) __builtin_trap();
      continue;
    }
    // Nothing lost: user, ':', then the password or "oauth2:" + the store path.
    std::size_t rest = c.oauth_store.empty() ? c.password.size() : 7 + c.oauth_store.size();
    if (!c.oauth_store.empty() && (!c.password.empty() || c.oauth_store[0] != '/')) __builtin_trap();
    if (c.username.size() + rest + (v.find(':') != std::string::npos ? 1 : 0) != v.size()) __builtin_trap();
  }
  authrelay::CredentialQuery q{std::string(in.substr(0, 64)), "h", "[h]:25", true, "+-"};
  (void)authrelay::CredentialKeys(q);
  return 0;
}
