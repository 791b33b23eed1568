#include "config/main_cf.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <fstream>
#include <sstream>

#include "core/sanitize.h"

namespace authrelay {
namespace {

// Postfix 3.7's defaults (postconf -d) for every parameter authrelay reads,
// plus the ones those defaults refer to. myhostname and mydomain are filled
// in from the system at first use.
const std::map<std::string, std::string, std::less<>>& BuiltinDefaults() {
  static const std::map<std::string, std::string, std::less<>> kDefaults = {
      {"config_directory", "/etc/postfix"},
      {"queue_directory", "/var/spool/postfix"},
      {"mail_name", "Postfix"},
      {"compatibility_level", "0"},
      {"command_time_limit", "1000s"},
      {"authrelay_time_limit", "$command_time_limit"},
      {"smtp_tls_session_cache_timeout", "3600s"},
      // Our own file (smtp(8)'s sessions live in tlsmgr, which we cannot use).
      {"authrelay_tls_session_cache", "/var/lib/authrelay/tls_session_cache"},
      {"authrelay_tls_session_cache_timeout", "$smtp_tls_session_cache_timeout"},
      // OAuth: refresh an access token this long before it expires; warn
      // (--check, --oauth-status) this long before a refresh token is
      // likely to die.
      {"authrelay_oauth_refresh_window", "300s"},
      {"authrelay_oauth_expiry_warning", "14d"},
      // Connection sharing (src/share): off unless asked for, like
      // smtp_tls_connection_reuse; limits as smtp(8)'s.
      {"authrelay_connection_reuse", "no"},
      {"authrelay_connection_reuse_directory", "/var/lib/authrelay/share"},
      {"authrelay_destination_concurrency_limit", "$default_destination_concurrency_limit"},
      {"default_destination_concurrency_limit", "20"},
      {"smtp_connection_reuse_time_limit", "300s"},
      {"smtp_connection_reuse_count_limit", "0"},
      {"smtp_connection_cache_time_limit", "2s"},
      {"soft_bounce", "no"},
      {"relayhost", ""},
      {"recipient_delimiter", ""},
      {"inet_protocols", "all"},
      {"smtp_sasl_auth_enable", "no"},
      {"smtp_sasl_password_maps", ""},
      {"smtp_sender_dependent_authentication", "no"},
      {"smtp_sasl_security_options", "noplaintext, noanonymous"},
      {"smtp_sasl_tls_security_options", "$smtp_sasl_security_options"},
      {"smtp_sasl_tls_verified_security_options", "$smtp_sasl_tls_security_options"},
      {"smtp_sasl_mechanism_filter", ""},
      {"smtp_sasl_auth_soft_bounce", "yes"},
      {"smtp_tls_security_level", ""},
      {"smtp_use_tls", "no"},
      {"smtp_enforce_tls", "no"},
      {"smtp_tls_enforce_peername", "yes"},
      {"smtp_tls_CAfile", ""},
      {"smtp_tls_CApath", ""},
      {"smtp_tls_wrappermode", "no"},
      {"smtp_tls_mandatory_protocols", ">=TLSv1"},
      {"smtp_tls_protocols", ">=TLSv1"},
      {"smtp_tls_mandatory_ciphers", "medium"},
      {"smtp_tls_ciphers", "medium"},
      {"smtp_tls_policy_maps", ""},
      {"smtp_tls_fingerprint_cert_match", ""},
      // Postfix: ${{$compatibility_level} <level {3.6} ? {md5} : {sha256}};
      // resolved in LoadSettings.
      {"smtp_tls_fingerprint_digest", ""},
      {"smtp_tls_servername", ""},
      {"smtp_tls_cert_file", ""},
      {"smtp_tls_key_file", "$smtp_tls_cert_file"},
      {"smtp_tls_verify_cert_match", "hostname"},
      {"smtp_tls_secure_cert_match", "nexthop, dot-nexthop"},
      {"smtp_helo_name", "$myhostname"},
      {"smtp_connect_timeout", "30s"},
      {"smtp_helo_timeout", "300s"},
      {"smtp_starttls_timeout", "300s"},
      {"smtp_mail_timeout", "300s"},
      {"smtp_rcpt_timeout", "300s"},
      {"smtp_data_init_timeout", "120s"},
      {"smtp_data_xfer_timeout", "180s"},
      {"smtp_data_done_timeout", "600s"},
      {"smtp_quit_timeout", "300s"},
      {"smtp_rset_timeout", "20s"},
      {"smtp_line_length_limit", "998"},
      {"disable_mime_output_conversion", "no"},
      {"mime_nesting_limit", "100"},
      {"mime_boundary_length_limit", "2048"},
      {"header_size_limit", "102400"},
      {"smtp_skip_5xx_greeting", "yes"},
      {"smtp_bind_address", ""},
      {"smtp_bind_address6", ""},
      {"lmdb_map_size", "16777216"},
  };
  return kDefaults;
}

std::string SystemHostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost.localdomain";
  std::string name = buf;
  if (name.find('.') == std::string::npos) name += ".localdomain";
  return name;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// The status line names only the file's base name: it may reach a bounce.
Failure ConfigError(std::string_view origin, int line, const std::string& why) {
  std::string_view base = origin.substr(origin.rfind('/') == std::string_view::npos ? 0 : origin.rfind('/') + 1);
  std::string where = ", line " + std::to_string(line) + ": " + why;
  return Failure("4.3.5", "mail system configuration error: " + std::string(base) + where,
                 std::string(origin) + where);
}

}  // namespace

MainCf::MainCf() = default;

Result<MainCf> MainCf::Parse(std::string_view text, std::string_view origin) {
  MainCf cf;
  std::string logical;
  int logical_line = 0;
  int line_no = 0;
  auto flush = [&]() -> Status {
    if (logical.empty()) return {};
    auto eq = logical.find('=');
    if (eq == std::string::npos) {
      return ConfigError(origin, logical_line, "missing '=' after parameter name: \"" +
                                                   Printable(logical, 60) + "\"");
    }
    std::string name(Trim(std::string_view(logical).substr(0, eq)));
    if (name.empty()) return ConfigError(origin, logical_line, "missing parameter name before '='");
    for (char c : name) {
      // Postfix accepts transport names with '-' in per-transport names
      // ("my-relay_destination_recipient_limit").
      if (!IsNameChar(c) && c != '-' && c != '.') {
        return ConfigError(origin, logical_line, "bad parameter name \"" + Printable(name, 60) + "\"");
      }
    }
    cf.explicit_[name] = std::string(Trim(std::string_view(logical).substr(eq + 1)));
    // A CR from a DOS-edited file would otherwise end up in values.
    logical.clear();
    return {};
  };

  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    ++line_no;
    pos = (nl == std::string_view::npos) ? text.size() + 1 : nl + 1;
    std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;  // blank and comment lines
    if (line[0] == ' ' || line[0] == '\t') {
      if (logical.empty()) {
        return ConfigError(origin, line_no, "logical line must not start with whitespace");
      }
      // Postfix's readlline() appends the continuation as it stands,
      // leading whitespace included ("a,\n    b" is "a,    b").
      logical += line;
      continue;
    }
    if (Status s = flush(); !s.ok()) return s.failure();
    logical = std::string(line);
    logical_line = line_no;
  }
  if (Status s = flush(); !s.ok()) return s.failure();
  return cf;
}

Result<MainCf> MainCf::Load(const std::string& config_dir) {
  std::string path = config_dir + "/main.cf";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Failure("4.3.5", "mail system configuration error: cannot read main.cf (" +
                       std::string(std::strerror(errno)) + ")",
                   "cannot open " + path + ": " + std::string(std::strerror(errno)) +
                       " (give the Postfix configuration directory with -c DIR or MAIL_CONFIG)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto cf = Parse(text.str(), path);
  if (!cf.ok()) return cf;
  cf.value().explicit_["config_directory"] = config_dir;
  return cf;
}

void MainCf::Set(const std::string& name, const std::string& value) { explicit_[name] = value; }

bool MainCf::IsSet(std::string_view name) const { return explicit_.find(name) != explicit_.end(); }

std::optional<std::string> MainCf::Raw(std::string_view name) const {
  if (auto it = explicit_.find(name); it != explicit_.end()) return it->second;
  if (name == "myhostname") return SystemHostname();
  if (name == "mydomain") {
    std::string host = Get("myhostname");
    auto dot = host.find('.');
    return dot == std::string::npos ? std::string("localdomain") : host.substr(dot + 1);
  }
  const auto& defaults = BuiltinDefaults();
  if (auto it = defaults.find(name); it != defaults.end()) return it->second;
  return std::nullopt;
}

// Expansion work per top-level call: "a = $b$b", "b = $c$c", ... doubles at
// each level, so depth alone does not bound it.
constexpr std::size_t kExpansionBudget = 1 << 20;

std::string MainCf::Get(std::string_view name) const {
  auto raw = Raw(name);
  std::size_t budget = kExpansionBudget;
  return raw ? ExpandDepth(*raw, 0, budget) : std::string();
}

std::string MainCf::Expand(std::string_view text) const {
  std::size_t budget = kExpansionBudget;
  return ExpandDepth(text, 0, budget);
}

// Postfix's mac_expand(), the parts main.cf uses. Depth-limited like
// Postfix (which gives up after 100 levels) so a loop cannot hang us.
std::string MainCf::ExpandDepth(std::string_view text, int depth, std::size_t& budget) const {
  if (depth > 100 || budget == 0) return {};
  if (text.size() >= budget) {
    budget = 0;
    return {};
  }
  budget -= text.size();
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out.push_back(c);
      continue;
    }
    char n = text[i + 1];
    if (n == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (n == '{' || n == '(') {
      char close = n == '{' ? '}' : ')';
      // Find the matching close, honouring nesting.
      std::size_t j = i + 2;
      int level = 1;
      for (; j < text.size(); ++j) {
        if (text[j] == n) ++level;
        if (text[j] == close && --level == 0) break;
      }
      if (j >= text.size()) {  // unbalanced: keep literally, as Postfix warns and does
        out.append(text.substr(i));
        break;
      }
      std::string_view inner = text.substr(i + 2, j - i - 2);
      std::size_t k = 0;
      while (k < inner.size() && IsNameChar(inner[k])) ++k;
      std::string name(inner.substr(0, k));
      std::optional<std::string> raw = Raw(name);
      // Postfix tests the parameter's stored (unexpanded) value in
      // ${name?..} and ${name:..}: "$smtp_tls_cert_file" counts as set even
      // when it expands to nothing (postconf -x agrees).
      bool raw_nonempty = raw && !raw->empty();
      std::string_view rest = k < inner.size() ? inner.substr(k + 1) : std::string_view();
      std::size_t mid = rest.find("}:{");
      if (k < inner.size() && inner[k] == '?' && rest.size() >= 2 && rest.front() == '{' && rest.back() == '}' &&
          mid != std::string_view::npos) {
        // Postfix 3.0+: ${name?{value1}:{value2}}.
        std::string_view yes = rest.substr(1, mid - 1);
        std::string_view no = rest.substr(mid + 3, rest.size() - mid - 4);
        out += ExpandDepth(raw_nonempty ? yes : no, depth + 1, budget);
      } else if (k < inner.size() && (inner[k] == '?' || inner[k] == ':')) {
        std::string_view alt = inner.substr(k + 1);
        // Postfix 3.0+: ${name?{text}} - braces protect the text.
        if (alt.size() >= 2 && alt.front() == '{' && alt.back() == '}') alt = alt.substr(1, alt.size() - 2);
        // ${name?text}: text if $name is non-empty, else nothing.
        // ${name:text}: text if $name is empty or undefined, else nothing.
        if ((inner[k] == '?') == raw_nonempty) out += ExpandDepth(alt, depth + 1, budget);
      } else {
        out += ExpandDepth(raw.value_or(""), depth + 1, budget);
      }
      i = j;
      continue;
    }
    if (IsNameChar(n)) {
      std::size_t j = i + 1;
      while (j < text.size() && IsNameChar(text[j])) ++j;
      std::string name(text.substr(i + 1, j - i - 1));
      out += ExpandDepth(Raw(name).value_or(""), depth + 1, budget);
      i = j - 1;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

bool MainCf::GetBool(std::string_view name) const {
  std::string v = Lowercase(Get(name));
  if (v == "yes" || v == "true" || v == "1") return true;
  if (v == "no" || v == "false" || v == "0") return false;
  auto it = BuiltinDefaults().find(name);
  return it != BuiltinDefaults().end() && it->second == "yes";
}

Result<long> MainCf::GetTime(std::string_view name) const {
  std::string v(Trim(Get(name)));
  long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  std::string_view unit(p, static_cast<std::size_t>(v.data() + v.size() - p));
  long scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else if (unit == "w") scale = 7 * 86400;
  if (ec != std::errc() || scale == 0 || n < 0) {
    std::string what = "bad time value \"" + Printable(v, 40) + "\" for parameter " + std::string(name) +
                       " (use a number with an optional unit s, m, h, d or w)";
    return ConfigFailure(what);
  }
  return n * scale;
}

Result<long> MainCf::GetInt(std::string_view name) const {
  std::string v(Trim(Get(name)));
  long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) {
    std::string what = "bad numerical value \"" + Printable(v, 40) + "\" for parameter " + std::string(name);
    return ConfigFailure(what);
  }
  return n;
}

std::vector<std::string> MainCf::ExplicitNames() const {
  std::vector<std::string> names;
  for (const auto& [k, v] : explicit_) names.push_back(k);
  return names;
}

}  // namespace authrelay
