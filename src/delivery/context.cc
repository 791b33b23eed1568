#include "delivery/context.h"

#include <cstdio>

#include "config/own_settings.h"
#include "credmap/map.h"
#include <cstdlib>

namespace authrelay {

std::string ConfigDir(const Options& o) {
  if (o.config_dir) return *o.config_dir;
  if (const char* env = std::getenv("MAIL_CONFIG"); env && *env) return env;
  return "/etc/postfix";
}

Result<Context> LoadContext(const Options& o) {
  auto cf = MainCf::Load(ConfigDir(o));
  if (!cf.ok()) return cf.failure();
  std::vector<std::string> own_in_main_cf;
  if (Status own = ApplyOwnConfig(ConfigDir(o), cf.value(), &own_in_main_cf); !own.ok()) return own.failure();
  for (const auto& [name, value] : o.overrides) cf.value().Set(name, value);
  auto settings = LoadSettings(cf.value());
  if (!settings.ok()) return settings.failure();
  return Context{std::move(cf).value(), std::move(settings).value(), std::move(own_in_main_cf)};
}

// Looks the next hop up in smtp_tls_policy_maps; applies a hit. Returns
// whether one was found.
Result<bool> FindTlsPolicy(const Settings& s, const NextHop& hop, TlsLevel* level, TlsPolicy* policy) {
  auto tables = TableList::Open("smtp_tls_policy_maps", s.tls_policy_maps, nullptr);
  if (!tables.ok()) {
    return Failure("4.7.5", "client TLS configuration problem", tables.failure().detail());
  }
  for (const std::string& key : TlsPolicyKeys(hop)) {
    auto hit = tables.value().Find(key);
    if (!hit.ok()) return Failure("4.7.5", "client TLS configuration problem", hit.failure().detail());
    if (!hit.value()) continue;
    if (Status st = ApplyTlsPolicyEntry(hit.value()->value.Reveal(), hop, s, level, policy); !st.ok()) {
      return st.failure();
    }
    // Implicit TLS still cannot go below encrypt.
    if (ImplicitTls(s, hop) && *level < TlsLevel::kEncrypt) {
      *level = TlsLevel::kEncrypt;
      policy->level = *level;
    }
    return true;
  }
  return false;
}

}  // namespace authrelay
