#include "config/settings.h"

#include <arpa/inet.h>

#include <cstdio>
#include <fstream>

#include "core/sanitize.h"
#include "credmap/map.h"
#include "sasl/sasl_client.h"

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
    // DANE needs DNSSEC lookups, which authrelay does not make: smtp(8)
    // without them falls back from "dane" to "may", and refuses "dane-only".
    if (Lowercase(level) == "dane-only") {
      return ConfigFailure("smtp_tls_security_level = dane-only needs DNSSEC lookups, which authrelay does not make "
                           "(use secure, verify or encrypt)");
    }
    auto l = Lowercase(level) == "dane" ? std::optional<TlsLevel>(TlsLevel::kMay) : ParseTlsLevel(level);
    if (!l) {
      std::string what = "unknown smtp_tls_security_level \"" + Printable(level, 40) +
                         "\" (use none, may, encrypt, fingerprint, verify or secure)";
      return ConfigFailure(what);
    }
    s.tls.configured_level = *l;
  }
  // Postfix's legacy switches, used only when no level is set.
  if (cf.GetBool("smtp_enforce_tls")) {
    s.tls.legacy_set = true;
    s.tls.legacy_level = cf.GetBool("smtp_tls_enforce_peername") ? TlsLevel::kVerify : TlsLevel::kEncrypt;
  } else if (cf.GetBool("smtp_use_tls")) {
    s.tls.legacy_set = true;
    s.tls.legacy_level = TlsLevel::kMay;
  }
  s.tls.wrappermode = cf.GetBool("smtp_tls_wrappermode");
  s.tls.ca_file = cf.Get("smtp_tls_CAfile");
  s.tls.ca_path = cf.Get("smtp_tls_CApath");
  if (cf.IsSet("smtp_tls_protocols")) s.tls.protocols = cf.Get("smtp_tls_protocols");
  if (cf.IsSet("smtp_tls_mandatory_protocols")) s.tls.mandatory_protocols = cf.Get("smtp_tls_mandatory_protocols");
  s.tls.servername = cf.Get("smtp_tls_servername");
  s.tls.cert_file = cf.Get("smtp_tls_cert_file");
  s.tls.key_file = cf.Get("smtp_tls_key_file");
  s.tls.verify_cert_match = cf.Get("smtp_tls_verify_cert_match");
  s.tls.secure_cert_match = cf.Get("smtp_tls_secure_cert_match");
  s.tls.fingerprint_cert_match = cf.Get("smtp_tls_fingerprint_cert_match");
  s.tls.fingerprint_digest = cf.Get("smtp_tls_fingerprint_digest");
  if (s.tls.fingerprint_digest.empty()) {
    // Postfix's default depends on compatibility_level: md5 below 3.6.
    std::string compat = cf.Get("compatibility_level");
    int major = 0, minor = 0;
    std::sscanf(compat.c_str(), "%d.%d", &major, &minor);
    s.tls.fingerprint_digest = (major > 3 || (major == 3 && minor >= 6)) ? "sha256" : "md5";
  }
  s.bind_address = cf.Get("smtp_bind_address");
  s.bind_address6 = cf.Get("smtp_bind_address6");
  s.inet_protocols = cf.Get("inet_protocols");
  s.tls_policy_maps = cf.Get("smtp_tls_policy_maps");
  s.soft_bounce = cf.GetBool("soft_bounce");
  s.allow_plaintext_auth = cf.GetBool("authrelay_allow_plaintext_auth");
  s.log_file = cf.Get("authrelay_log_file");
  s.tls.session_cache_file = std::string(Trim(cf.Get("authrelay_tls_session_cache")));
  auto cache_timeout = cf.GetTime("authrelay_tls_session_cache_timeout");
  if (!cache_timeout.ok()) return cache_timeout.failure();
  // smtp(8) caps its cache timeout at 8640000s (100 days); so do we.
  s.tls.session_cache_timeout = std::min<long>(cache_timeout.value(), 8640000);
  if (!Trim(cf.Get("minimal_backoff_time")).empty()) {  // else Postfix's default, 300s
    auto backoff = cf.GetTime("minimal_backoff_time");
    if (!backoff.ok()) return backoff.failure();
    s.minimal_backoff_time = backoff.value();
  }
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
               {"smtp_quit_timeout", &p.quit_timeout},         {"smtp_rset_timeout", &p.rset_timeout}};
  for (auto& t : times) {
    auto v = cf.GetTime(t.name);
    if (!v.ok()) return v.failure();
    *t.out = std::max(1L, v.value());
  }
  auto limit = cf.GetInt("smtp_line_length_limit");
  if (!limit.ok()) return limit.failure();
  p.line_length_limit = static_cast<std::size_t>(std::max(0L, limit.value()));
  // The 8-bit -> quoted-printable downgrade (smtp/mime_downgrade.h).
  p.mime.output_conversion = !cf.GetBool("disable_mime_output_conversion");
  struct {
    const char* name;
    std::size_t* out;
  } mime_limits[] = {{"mime_nesting_limit", &p.mime.nesting_limit},
                     {"mime_boundary_length_limit", &p.mime.boundary_length_limit},
                     {"header_size_limit", &p.mime.header_size_limit}};
  for (auto& m : mime_limits) {
    auto v = cf.GetInt(m.name);
    if (!v.ok()) return v.failure();
    *m.out = static_cast<std::size_t>(std::max(1L, v.value()));
  }
  // smtp_sasl_mechanism_filter: names, "!name", and "/file/name" whose
  // words are read in its place (Postfix's string list syntax).
  for (const std::string& word : SplitList(cf.Get("smtp_sasl_mechanism_filter"))) {
    bool negate = !word.empty() && word[0] == '!';
    std::string_view name = std::string_view(word).substr(negate ? 1 : 0);
    if (Lowercase(name.substr(0, 7)) == "static:") {
      // static: answers every lookup: it matches every mechanism.
      p.mechanism_filter += (p.mechanism_filter.empty() ? "" : " ") + std::string(negate ? "!" : "") +
                            std::string(kAnyMechanism);
    } else if (name.find(':') != std::string_view::npos && name[0] != '/') {
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

}  // namespace authrelay
