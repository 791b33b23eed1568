#include "delivery/context.h"

#include <cstdio>

#include "config/own_settings.h"
#include <cstdlib>

#include "core/sanitize.h"
#include "credmap/map.h"

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

Result<std::optional<std::string>> FindTlsPolicyEntry(const Settings& s, const NextHop& hop) {
  if (Trim(s.tls_policy_maps).empty()) return std::optional<std::string>();
  auto tables = TableList::Open("smtp_tls_policy_maps", s.tls_policy_maps, nullptr);
  if (!tables.ok()) {
    return Failure("4.7.5", "client TLS configuration problem", tables.failure().detail())
        .WithSetting("smtp_tls_policy_maps");
  }
  for (const std::string& key : TlsPolicyKeys(hop.verbatim, hop.host, hop.bracketed, !hop.service.empty())) {
    auto hit = tables.value().Find(key);
    if (!hit.ok()) {
      return Failure("4.7.5", "client TLS configuration problem", hit.failure().detail())
          .WithSetting("smtp_tls_policy_maps");
    }
    if (hit.value()) return std::optional<std::string>(hit.value()->value.Reveal());
  }
  return std::optional<std::string>();
}

Result<TlsDecision> TlsPolicyFor(const Settings& s, const NextHop& hop, const std::string& server_host,
                                 bool have_credentials) {
  auto entry = FindTlsPolicyEntry(s, hop);
  if (!entry.ok()) return entry.failure();
  TlsDestination dest{hop.verbatim, hop.host, server_host.empty() ? hop.host : server_host, hop.port};
  return ResolveTlsPolicy(s.tls, dest, have_credentials, entry.value());
}

}  // namespace authrelay
