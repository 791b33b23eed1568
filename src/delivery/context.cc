#include "delivery/context.h"

#include <cstdio>
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
  for (const auto& [name, value] : o.overrides) cf.value().Set(name, value);
  auto settings = LoadSettings(cf.value());
  if (!settings.ok()) return settings.failure();
  return Context{std::move(cf).value(), std::move(settings).value()};
}

void JsonString(std::ostream& os, std::string_view s) {
  os << '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') os << '\\' << c;
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      os << buf;
    } else os << c;
  }
  os << '"';
}

}  // namespace authrelay
