#include "config/settings.h"

#include <arpa/inet.h>

#include <cstdio>
#include <fstream>

#include "core/sanitize.h"
#include "credmap/map.h"

namespace authrelay {

Result<Settings> LoadSettings(const MainCf& cf) {
  Settings s;
  s.config_dir = cf.Get("config_directory");
  s.sasl_enable = cf.GetBool("smtp_sasl_auth_enable");
  s.password_maps = cf.Get("smtp_sasl_password_maps");
  s.sender_dependent = cf.GetBool("smtp_sender_dependent_authentication");
  s.recipient_delimiter = cf.Get("recipient_delimiter");
  std::string level = std::string(Trim(cf.Get("smtp_tls_security_level")));
  if (!level.empty()) {
    auto l = ParseTlsLevel(level);
    if (!l) {
      std::string what = "unknown smtp_tls_security_level \"" + Printable(level, 40) +
                         "\" (use none, may, encrypt, fingerprint, verify or secure)";
      return ConfigFailure(what);
    }
    s.configured_level = *l;
  }
  // Postfix's legacy switches, used only when no level is set.
  if (cf.GetBool("smtp_enforce_tls")) {
    s.legacy_set = true;
    s.legacy_level = cf.GetBool("smtp_tls_enforce_peername") ? TlsLevel::kVerify : TlsLevel::kEncrypt;
  } else if (cf.GetBool("smtp_use_tls")) {
    s.legacy_set = true;
    s.legacy_level = TlsLevel::kMay;
  }
  s.wrappermode = cf.GetBool("smtp_tls_wrappermode");
  s.ca_file = cf.Get("smtp_tls_CAfile");
  s.ca_path = cf.Get("smtp_tls_CApath");
  if (cf.IsSet("smtp_tls_protocols")) s.protocols = cf.Get("smtp_tls_protocols");
  if (cf.IsSet("smtp_tls_mandatory_protocols")) s.mandatory_protocols = cf.Get("smtp_tls_mandatory_protocols");
  s.servername = cf.Get("smtp_tls_servername");
  s.cert_file = cf.Get("smtp_tls_cert_file");
  s.key_file = cf.Get("smtp_tls_key_file");
  s.verify_cert_match = cf.Get("smtp_tls_verify_cert_match");
  s.secure_cert_match = cf.Get("smtp_tls_secure_cert_match");
  s.fingerprint_cert_match = cf.Get("smtp_tls_fingerprint_cert_match");
  s.fingerprint_digest = cf.Get("smtp_tls_fingerprint_digest");
  if (s.fingerprint_digest.empty()) {
    // Postfix's default depends on compatibility_level: md5 below 3.6.
    std::string compat = cf.Get("compatibility_level");
    int major = 0, minor = 0;
    std::sscanf(compat.c_str(), "%d.%d", &major, &minor);
    s.fingerprint_digest = (major > 3 || (major == 3 && minor >= 6)) ? "sha256" : "md5";
  }
  s.bind_address = cf.Get("smtp_bind_address");
  s.bind_address6 = cf.Get("smtp_bind_address6");
  s.inet_protocols = cf.Get("inet_protocols");
  s.tls_policy_maps = cf.Get("smtp_tls_policy_maps");
  s.soft_bounce = cf.GetBool("soft_bounce");
  s.allow_plaintext_auth = cf.GetBool("authrelay_allow_plaintext_auth");
  s.log_file = cf.Get("authrelay_log_file");
  s.tls_session_cache = std::string(Trim(cf.Get("authrelay_tls_session_cache")));
  auto cache_timeout = cf.GetTime("authrelay_tls_session_cache_timeout");
  if (!cache_timeout.ok()) return cache_timeout.failure();
  // smtp(8) caps its cache timeout at 8640000s (100 days); so do we.
  s.tls_session_cache_timeout = std::min<long>(cache_timeout.value(), 8640000);
  auto refresh_window = cf.GetTime("authrelay_oauth_refresh_window");
  if (!refresh_window.ok()) return refresh_window.failure();
  s.oauth_refresh_window = refresh_window.value();
  auto expiry_warning = cf.GetTime("authrelay_oauth_expiry_warning");
  if (!expiry_warning.ok()) return expiry_warning.failure();
  s.oauth_expiry_warning = expiry_warning.value();

  SessionPolicy& p = s.session;
  p.helo_name = cf.Get("smtp_helo_name");
  p.skip_5xx_greeting = cf.GetBool("smtp_skip_5xx_greeting");
  struct {
    const char* name;
    long* out;
  } times[] = {{"smtp_connect_timeout", &s.connect_timeout}, {"smtp_helo_timeout", &p.helo_timeout},
               {"smtp_starttls_timeout", &p.starttls_timeout}, {"smtp_mail_timeout", &p.mail_timeout},
               {"smtp_rcpt_timeout", &p.rcpt_timeout},         {"smtp_data_init_timeout", &p.data_init_timeout},
               {"smtp_data_xfer_timeout", &p.data_xfer_timeout}, {"smtp_data_done_timeout", &p.data_done_timeout},
               {"smtp_quit_timeout", &p.quit_timeout}};
  for (auto& t : times) {
    auto v = cf.GetTime(t.name);
    if (!v.ok()) return v.failure();
    *t.out = std::max(1L, v.value());
  }
  auto limit = cf.GetInt("smtp_line_length_limit");
  if (!limit.ok()) return limit.failure();
  p.line_length_limit = static_cast<std::size_t>(std::max(0L, limit.value()));
  // smtp_sasl_mechanism_filter: names, "!name", and "/file/name" whose
  // words are read in its place (Postfix's string list syntax).
  for (const std::string& word : SplitList(cf.Get("smtp_sasl_mechanism_filter"))) {
    bool negate = !word.empty() && word[0] == '!';
    std::string_view name = std::string_view(word).substr(negate ? 1 : 0);
    if (name.find(':') != std::string_view::npos && name[0] != '/') {
      // type:table: a mechanism matches when the table has its name as a
      // key (Postfix string lists). Only mechanisms a client can speak can
      // ever be used, so asking the table about each of those is the same.
      auto table = TableList::Open("smtp_sasl_mechanism_filter", name, nullptr);
      if (!table.ok()) return table.failure();
      for (const char* mech : {"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256",
                               "SCRAM-SHA-512", "NTLM", "GSSAPI", "GS2-KRB5", "OTP", "ANONYMOUS", "EXTERNAL",
                               "XOAUTH2", "OAUTHBEARER"}) {
        auto hit = table.value().Find(mech);
        if (!hit.ok()) return hit.failure();
        if (hit.value()) {
          p.mechanism_filter += (p.mechanism_filter.empty() ? "" : " ") + std::string(negate ? "!" : "") + mech;
        }
      }
    } else if (!name.empty() && name[0] == '/') {
      std::ifstream in{std::string(name)};
      if (!in) {
        std::string what = "smtp_sasl_mechanism_filter: cannot read " + std::string(name);
        return Failure("4.3.5", "mail system configuration error: cannot read a smtp_sasl_mechanism_filter file",
                       what);
      }
      std::string w;
      while (in >> w) {
        if (w[0] == '#') {
          std::getline(in, w);
          continue;
        }
        p.mechanism_filter += (p.mechanism_filter.empty() ? "" : " ") + std::string(negate ? "!" : "") + w;
      }
    } else {
      p.mechanism_filter += (p.mechanism_filter.empty() ? "" : " ") + word;
    }
  }
  p.sasl_options_plain = cf.Get("smtp_sasl_security_options");
  p.sasl_options_tls = cf.Get("smtp_sasl_tls_security_options");
  p.sasl_options_verified = cf.Get("smtp_sasl_tls_verified_security_options");
  p.auth_soft_bounce = cf.GetBool("smtp_sasl_auth_soft_bounce");
  p.allow_plaintext_auth = s.allow_plaintext_auth;

  // Postfix bounces a pipe command that overruns authrelay_time_limit, so we
  // stop well before it: at 80%, and at least 5 s early.
  auto time_limit = cf.GetTime("authrelay_time_limit");
  if (!time_limit.ok()) return time_limit.failure();
  long t = time_limit.value();
  s.deadline_seconds = std::max(1L, std::min(t * 8 / 10, t - 5));
  return s;
}

bool ImplicitTls(const Settings& s, const NextHop& hop) { return s.wrappermode || hop.port == 465; }

TlsLevel EffectiveTlsLevel(const Settings& s, bool have_credentials, const NextHop& hop, std::string* why) {
  TlsLevel level;
  if (s.configured_level) {
    level = *s.configured_level;
    if (why) *why = "smtp_tls_security_level";
  } else if (have_credentials) {
    level = std::max(TlsLevel::kSecure, s.legacy_level);
    if (why) *why = "authrelay default for a next hop with credentials";
  } else if (s.legacy_set) {
    level = s.legacy_level;
    if (why) *why = "smtp_use_tls/smtp_enforce_tls";
  } else {
    level = TlsLevel::kMay;
    if (why) *why = "authrelay default";
  }
  // Implicit TLS cannot be opportunistic: the connection is TLS or nothing.
  if (ImplicitTls(s, hop) && level < TlsLevel::kEncrypt) {
    level = TlsLevel::kEncrypt;
    if (why) *why += ", raised to encrypt for implicit TLS";
  }
  return level;
}

TlsPolicy MakeTlsPolicy(const Settings& s, TlsLevel level, const NextHop& hop, const std::string& server_host) {
  const std::string& host = server_host.empty() ? hop.host : server_host;
  TlsPolicy p;
  p.level = level;
  p.ca_file = s.ca_file;
  p.ca_path = s.ca_path;
  p.protocols = level >= TlsLevel::kEncrypt ? s.mandatory_protocols : s.protocols;
  p.cert_file = s.cert_file;
  p.key_file = s.key_file;
  p.session_cache_file = s.tls_session_cache;
  p.session_cache_timeout = s.tls_session_cache_timeout;
  p.session_peer = hop.verbatim + "|" + host + ":" + std::to_string(hop.port);
  p.fingerprint_digest = s.fingerprint_digest.empty() ? "sha256" : s.fingerprint_digest;
  for (const auto& fp : SplitList(s.fingerprint_cert_match)) {
    for (const auto& part : SplitList(fp)) p.fingerprints.push_back(part);
  }
  const std::string& match = level == TlsLevel::kSecure ? s.secure_cert_match : s.verify_cert_match;
  for (const std::string& word : SplitList(match)) {
    std::string w = Lowercase(word);
    if (w == "hostname") p.match_names.push_back(host);
    else if (w == "nexthop") p.match_names.push_back(hop.host);
    else if (w == "dot-nexthop") p.match_names.push_back("." + hop.host);
    else p.match_names.push_back(word);
  }
  std::string sni = Lowercase(Trim(s.servername));
  if (sni.empty() || sni == "hostname") p.server_name = host;
  else if (sni == "nexthop") p.server_name = hop.host;
  else p.server_name = s.servername;
  unsigned char buf[16];
  if (inet_pton(AF_INET, p.server_name.c_str(), buf) == 1 || inet_pton(AF_INET6, p.server_name.c_str(), buf) == 1) {
    p.server_name.clear();  // SNI carries host names only (RFC 6066 §3)
  }
  return p;
}

namespace {

std::vector<std::string> MatchNames(const std::string& words, const NextHop& hop, char separator) {
  std::vector<std::string> names;
  std::string cur;
  auto flush = [&] {
    std::string w(Trim(cur));
    cur.clear();
    if (w.empty()) return;
    std::string l = Lowercase(w);
    if (l == "hostname" || l == "nexthop") names.push_back(hop.host);
    else if (l == "dot-nexthop") names.push_back("." + hop.host);
    else names.push_back(w);
  };
  for (char c : words) {
    if (c == separator || (separator == ':' && (c == ',' || c == ' '))) flush();
    else cur.push_back(c);
  }
  flush();
  return names;
}

// OpenSSL cipher lists for Postfix's cipher grades (TLS 1.2 and older;
// TLS 1.3 suites are all strong).
const char* CipherGrade(const std::string& grade) {
  std::string g = Lowercase(grade);
  if (g == "high") return "HIGH:!aNULL:!eNULL";
  if (g == "medium") return "HIGH:MEDIUM:!aNULL:!eNULL";
  if (g == "low" || g == "export") return "ALL:!aNULL:!eNULL";
  if (g == "null") return "eNULL:!aNULL";
  return nullptr;
}

}  // namespace

std::vector<std::string> TlsPolicyKeys(const NextHop& hop) {
  std::vector<std::string> keys = {hop.verbatim};
  if (!hop.bracketed && hop.service.empty()) {
    std::string d = hop.host;
    for (auto dot = d.find('.'); dot != std::string::npos; dot = d.find('.', dot + 1)) {
      keys.push_back(d.substr(dot));
    }
  }
  return keys;
}

Status ApplyTlsPolicyEntry(const std::string& value, const NextHop& hop, const Settings& s, TlsLevel* level,
                           TlsPolicy* policy) {
  auto bad = [&](const std::string& why) {
    return Failure("4.7.5", "client TLS configuration problem",
                   "TLS policy lookup for " + hop.verbatim + ": " + why + " (in smtp_tls_policy_maps)");
  };
  std::vector<std::string> words = SplitList(value);
  if (words.empty()) return bad("empty policy");
  auto l = ParseTlsLevel(words[0]);
  if (!l) return bad("invalid TLS level \"" + Printable(words[0], 40) + "\"");
  *level = *l;
  *policy = MakeTlsPolicy(s, *l, hop);
  std::vector<std::string> matches;
  for (std::size_t i = 1; i < words.size(); ++i) {
    std::string w = words[i];
    if (w.size() >= 2 && w.front() == '{' && w.back() == '}') w = std::string(Trim(w.substr(1, w.size() - 2)));
    auto eq = w.find('=');
    if (eq == std::string::npos) return bad("attribute without value: " + Printable(w, 60));
    std::string name = Lowercase(Trim(w.substr(0, eq)));
    std::string val(Trim(w.substr(eq + 1)));
    if (name == "match") {
      matches.push_back(val);
    } else if (name == "protocols") {
      int lo, hi;
      if (!ProtocolRange(val, &lo, &hi)) return bad("invalid protocols=" + Printable(val, 60));
      policy->protocols = val;
    } else if (name == "ciphers") {
      if (!CipherGrade(val)) return bad("invalid ciphers=" + Printable(val, 40));
      policy->ciphers = CipherGrade(val);
    } else if (name == "exclude") {
      policy->exclude = val;
    } else if (name == "servername") {
      std::string v = Lowercase(val);
      policy->server_name = (v == "hostname" || v == "nexthop") ? hop.host : val;
    } else if (name == "tafile" || name == "connection_reuse" || name == "enable_rpk") {
      // Accepted for compatibility; no effect on a one-message client.
    } else {
      return bad("unknown attribute " + Printable(name, 40));
    }
  }
  if (!matches.empty()) {
    policy->match_names.clear();
    policy->fingerprints.clear();
    for (const auto& m : matches) {
      if (*l == TlsLevel::kFingerprint) {
        for (const auto& f : MatchNames(m, hop, '|')) policy->fingerprints.push_back(f);
      } else {
        for (const auto& n : MatchNames(m, hop, ':')) policy->match_names.push_back(n);
      }
    }
  }
  return {};
}

}  // namespace authrelay
