// --check: everything that can be known without sending mail. Run it as
// the pipe user: map permissions are then exactly what Postfix will see.
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <iostream>
#include <set>
#include <tuple>
#include <vector>

#include "core/json.h"
#include "core/private_file.h"
#include "config/own_settings.h"
#include "core/sanitize.h"
#include "credmap/credentials.h"
#include "delivery/context.h"
#include "delivery/profile_ops.h"
#include "net/proxy.h"
#include "share/share.h"
#include "delivery/report.h"
#include "oauth/jwt.h"
#include "net/dns.h"
#include "oauth/lifetime.h"
#include "oauth/token_store.h"
#include "sasl/sasl_client.h"
#include "smtp/nexthop.h"
#include "tls/tls_client.h"

namespace authrelay {
namespace {

struct Problem {
  std::string severity;  // "error" (a delivery would defer) or "warning"
  std::string what;
  std::string fix;
  // What the problem is about, for naming each fault once (ReportOnce):
  // the setting at fault ("" if none known) and why.
  std::string setting;
  Cause cause = Cause::kUnclassified;
};

struct HopReport {
  std::string nexthop;
  std::string level;
  std::string level_why;
  bool implicit_tls = false;
  bool credentials = false;
  std::string username;
};

// What a failure says went wrong, for the problem line: the log detail
// (without its fix, which --check prints on a line of its own), else the
// public text.
std::string What(const Failure& f) { return f.bare_detail().empty() ? f.text() : f.bare_detail(); }

class Checker {
 public:
  explicit Checker(const Context& ctx) : ctx_(ctx), s_(ctx.settings) {}

  void Run(const std::vector<std::string>& nexthops) {
    CheckMaps();
    CheckOAuthStores();
    CheckSaslOptions();
    CheckOwnSettingsHome();
    CheckTlsParameters();
    CheckProxyMaps();
    for (const auto& nh : nexthops) CheckNextHop(nh);
    if (nexthops.empty()) {
      Warn("no relayhost and no next hop given: only the general settings were checked",
           "run authrelay --check --nexthop=[smtp.example.com]:587 for a per-destination (transport_maps) next hop");
    }
  }

  int Print(bool json) const {
    bool errors = false;
    for (const auto& p : problems_) errors = errors || p.severity == "error";
    if (json) {
      Json hops = Json::array();
      for (const HopReport& h : hops_) {
        hops.push_back({{"nexthop", h.nexthop},
                        {"tls_level", h.level},
                        {"tls_level_source", h.level_why},
                        {"implicit_tls", h.implicit_tls},
                        {"credentials", h.credentials},
                        {"username", h.username}});
      }
      Json problems = Json::array();
      for (const auto& p : problems_) problems.push_back({{"severity", p.severity}, {"what", p.what}, {"fix", p.fix}});
      Json out = {{"config_directory", s_.config_dir}, {"nexthops", std::move(hops)},
                  {"problems", std::move(problems)}, {"ok", !errors}};
      std::cout << DumpJson(out) << "\n";
    } else {
      std::cout << "config: " << s_.config_dir << "/main.cf (as uid " << geteuid() << ")\n";
      for (const auto& h : hops_) {
        std::cout << "next hop " << h.nexthop << ": TLS " << h.level << " (" << h.level_why << "), "
                  << (h.implicit_tls ? "implicit TLS" : "STARTTLS") << ", "
                  << (h.credentials ? "AUTH as " + h.username : std::string("no credentials: no AUTH")) << "\n";
      }
      for (const auto& p : problems_) {
        std::cout << p.severity << ": " << p.what << "\n";
        if (!p.fix.empty()) std::cout << "  fix: " << p.fix << "\n";
      }
      std::cout << (errors ? "problems found: mail would be deferred\n"
                           : problems_.empty() ? "ok: no problems found\n" : "ok: warnings only\n");
    }
    return errors ? kExitTempFail : kExitOk;
  }

 private:
  void Error(std::string what, std::string fix, std::string setting = {}) {
    problems_.push_back({"error", std::move(what), std::move(fix), std::move(setting), Cause::kUnclassified});
  }
  void Warn(std::string what, std::string fix) {
    problems_.push_back({"warning", std::move(what), std::move(fix), {}, Cause::kUnclassified});
  }

  void CheckMaps() {
    if (!s_.sasl_enable) return;
    if (Trim(s_.password_maps).empty()) {
      Warn("smtp_sasl_auth_enable = yes but smtp_sasl_password_maps is empty: no credentials will be sent",
           "set smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd");
      return;
    }
    std::vector<Notice> warnings;
    auto t = TableList::Open("smtp_sasl_password_maps", s_.password_maps, &warnings);
    for (auto& w : warnings) Warn(std::move(w.what), std::move(w.fix));
    if (!t.ok()) {
      Error(What(t.failure()), t.failure().fix());
      return;
    }
    tables_ = std::move(t).value();
  }

  // Every OAuth token store the credentials maps name: usable by the pipe
  // user, and its refresh token not about to die
  // (authrelay_oauth_expiry_warning ahead).
  void CheckOAuthStores() {
    if (!tables_) return;
    auto values = tables_->Values();
    if (!values.ok()) {
      Error(values.failure().detail().empty() ? values.failure().text() : values.failure().detail(), "");
      return;
    }
    std::set<std::string> stores;
    for (auto& hit : values.value()) {
      Credentials c = SplitCredentialValue(std::move(hit.value));
      if (!c.oauth_store.empty()) stores.insert(c.oauth_store);
      if (c.PasswordOutsideMap()) {
        auto password = ResolvePassword(c, PipeUserToJudgeAs(c.password_file));
        if (!password.ok()) {
          Error(password.failure().bare_detail() + ": deliveries that use it would defer", password.failure().fix());
        }
      }
    }
    std::time_t now = std::time(nullptr);
    for (const std::string& path : stores) {
      auto store = ReadTokenStore(path, PipeUserToJudgeAs(path));
      if (!store.ok()) {
        Error(store.failure().bare_detail() + ": deliveries for it would defer", store.failure().fix());
        continue;
      }
      const TokenStore& t = store.value();
      // The flows without a person depend on their key (and certificate)
      // being usable, not on a refresh token.
      if (t.grant_type == "jwt_bearer") {
        auto key = ReadServiceAccountKey(t.key_file, PipeUserToJudgeAs(t.key_file));
        if (!key.ok()) {
          Error("OAuth token store " + path + ": " + key.failure().bare_detail() + ": deliveries for it would defer",
                key.failure().fix());
        }
        continue;
      }
      if (!t.certificate.empty()) {
        auto cert = ReadCertificate(t.certificate);
        Secret key;
        Notice why = ReadPrivateFile(t.private_key_file, PipeUserToJudgeAs(t.private_key_file), 64 * 1024, &key);
        if (!cert.ok()) {
          Error("OAuth token store " + path + ": " + cert.failure().detail(), "");
        } else if (cert.value().not_after - static_cast<long long>(now) < s_.oauth_expiry_warning) {
          Warn("OAuth token store " + path + ": certificate " + t.certificate + " expires in " +
                   std::to_string((cert.value().not_after - static_cast<long long>(now)) / 86400) + " days",
               "make a new certificate, upload it to the app registration and enrol again with it");
        }
        if (!why.what.empty()) {
          Error("OAuth token store " + path + ": private key file " + t.private_key_file + ": " + why.what +
                    ": deliveries for it would defer",
                why.fix);
        }
        continue;
      }
      if (t.grant_type == "refresh_token" && t.refresh_token.empty()) {
        Error("OAuth token store " + path + " has no refresh token", "enrol the account: authrelay --oauth-enrol " + path);
        continue;
      }
      RefreshTokenOutlook outlook = RefreshTokenOutlookFor(t);
      if (outlook.dies_at == 0) continue;
      long long left = outlook.dies_at - static_cast<long long>(now);
      std::string days = std::to_string((left + 86399) / 86400);
      if (left <= 0) {
        Error("OAuth token store " + path + ": the refresh token has probably stopped working (" + outlook.why + ")",
              "check with authrelay --oauth-status " + path + " --refresh; if refused, authrelay --oauth-enrol " + path);
      } else if (left <= s_.oauth_expiry_warning) {
        Warn("OAuth token store " + path + ": the refresh token may stop working in " + days + " days (" +
                 outlook.why + ")",
             "keep mail flowing or run authrelay --oauth-status " + path + " --refresh; else enrol again: "
             "authrelay --oauth-enrol " + path);
      }
    }
  }

  // authrelay_proxy_maps may hold proxy passwords: the same file checks as
  // the credentials map (a world-readable one is worth a warning).
  void CheckProxyMaps() {
    const std::string maps = ctx_.cf.Get("authrelay_proxy_maps");
    if (Trim(maps).empty()) return;
    std::vector<Notice> warnings;
    auto t = TableList::Open("authrelay_proxy_maps", maps, &warnings);
    for (auto& w : warnings) Warn(std::move(w.what), std::move(w.fix));
    if (!t.ok()) Error(What(t.failure()), t.failure().fix());
  }

  // authrelay's own names in main.cf work, but make postconf warn.
  void CheckOwnSettingsHome() {
    if (ctx_.own_in_main_cf.empty()) return;
    Warn(OwnInMainCfHint(s_.config_dir, ctx_.own_in_main_cf),
         "authrelay-setup moves them (it runs postconf -X for each), or move the lines by hand");
  }

  void CheckSaslOptions() {
    for (const char* p : {"smtp_sasl_security_options", "smtp_sasl_tls_security_options",
                          "smtp_sasl_tls_verified_security_options"}) {
      auto flags = ParseSaslSecurityOptions(p, ctx_.cf.Get(p));
      if (!flags.ok()) Error(flags.failure().detail(), "");
    }
    if (!s_.sasl_enable) return;
    std::string filter = Lowercase(s_.session.mechanism_filter);
    std::string verified = Lowercase(s_.session.sasl_options_verified);
    if (!filter.empty() && verified.find("noplaintext") != std::string::npos &&
        (filter.find("plain") != std::string::npos || filter.find("login") != std::string::npos) &&
        filter.find("cram") == std::string::npos && filter.find("scram") == std::string::npos) {
      Error("smtp_sasl_mechanism_filter allows only plaintext mechanisms, but "
            "smtp_sasl_tls_verified_security_options (default: smtp_sasl_tls_security_options, then "
            "smtp_sasl_security_options) says noplaintext: no mechanism is left",
            "set smtp_sasl_tls_security_options = noanonymous");
    }
  }

  // The TLS parameters on their own, whatever the next hop: each one that
  // would make a delivery defer is named with its fix.
  void CheckTlsParameters() {
    const TlsSettings& t = s_.tls;
    for (auto [param, value] : {std::pair{"smtp_tls_protocols", &t.protocols},
                                std::pair{"smtp_tls_mandatory_protocols", &t.mandatory_protocols}}) {
      if (auto problem = ProtocolListProblem(param, *value)) ReportOnce(*problem);
    }
    for (auto [param, value] : {std::pair{"smtp_tls_secure_cert_match", &t.secure_cert_match},
                                std::pair{"smtp_tls_verify_cert_match", &t.verify_cert_match}}) {
      if (auto problem = CertMatchListProblem(param, *value)) ReportOnce(*problem);
    }
    if (!t.ca_file.empty() || !t.ca_path.empty()) {
      TlsPolicy p;
      p.level = TlsLevel::kSecure;
      p.ca_file = t.ca_file;
      p.ca_path = t.ca_path;
      CheckClientContext(p);
    }
  }

  // An error for a failure, unless a problem already names the same setting
  // for the same cause: a bad setting met by several checks (the general
  // one and each next hop's) is one line. Decided on what the failure says
  // it is about, never on its wording.
  void ReportOnce(const Failure& f) {
    if (!f.setting().empty()) {
      for (const auto& p : problems_) {
        if (p.severity == "error" && p.setting == f.setting() && p.cause == f.cause()) return;
      }
    }
    problems_.push_back({"error", What(f), f.fix(), f.setting(), f.cause()});
  }

  // Builds the client TLS context a delivery would build, once per distinct
  // set of the TlsPolicy fields TlsClient::Context() reads: next hops that
  // share main.cf's TLS settings share one check and one error.
  void CheckClientContext(const TlsPolicy& p) {
    auto inputs = std::make_tuple(p.level >= TlsLevel::kVerify, p.level <= TlsLevel::kEncrypt, p.ca_file, p.ca_path,
                                  p.protocols, p.ciphers, p.exclude, p.cert_file, p.key_file);
    if (!contexts_checked_.insert(std::move(inputs)).second) return;
    TlsClient tls(p);
    if (auto c = tls.Context(); !c.ok()) ReportOnce(c.failure());
  }

  void CheckNextHop(const std::string& value) {
    auto hops = ParseNextHops(value);
    if (!hops.ok()) {
      Error(hops.failure().detail(), "");
      return;
    }
    for (const NextHop& hop : hops.value()) {
      for (auto& [what, fix] : ProfileWarnings(ctx_.cf, hop.host)) Warn(std::move(what), std::move(fix));
      // A proxy setting a delivery could not use defers every mail: say so here.
      if (auto px = FindProxy(ctx_.cf.Get("authrelay_proxy"), ctx_.cf.Get("authrelay_proxy_maps"), hop.verbatim, hop.host);
          !px.ok()) {
        Error(px.failure().detail().empty() ? px.failure().text() : px.failure().detail(),
              "fix authrelay_proxy / authrelay_proxy_maps in " + s_.config_dir + "/authrelay.cf");
      }
      HopReport h;
      h.nexthop = hop.verbatim;
      std::optional<Credentials> creds;
      if (tables_) {
        auto f = FindCredentials(*tables_, {"", hop.host, hop.verbatim, false, ""});
        if (!f.ok()) {
          Error(f.failure().detail().empty() ? f.failure().text() : f.failure().detail(), "");
        } else if (f.value()) {
          creds = std::move(f.value());
          h.credentials = true;
          h.username = creds->username;
          if (creds->password.empty() && !creds->PasswordOutsideMap() && creds->oauth_store.empty()) {
            Warn("the entry for " + hop.verbatim + " has no password (no colon in the value)",
                 "write the value as username:password");
          }
        }
      }
      // The policy applies per server host: for a domain, its first MX host
      // (names, SNI and the session-cache key are that host's).
      std::string server = hop.host;
      if (!hop.bracketed) {
        if (auto mx = LookupMx(hop.host); mx.ok() && !mx.value().empty()) server = mx.value().front().host;
        if (server != hop.host) h.nexthop += " (MX host " + server + ")";
      }
      auto decision = TlsPolicyFor(s_, hop, server, h.credentials);
      if (!decision.ok()) {
        // Not again when CheckTlsParameters or an earlier next hop named it.
        ReportOnce(decision.failure());
        h.level = "(none: client TLS configuration problem)";
        h.level_why = "see the errors below";
        hops_.push_back(std::move(h));
        continue;
      }
      const TlsPolicy& tls_policy = decision.value().policy;
      TlsLevel level = tls_policy.level;
      h.level_why = decision.value().level_why;
      h.level = TlsLevelName(level);
      h.implicit_tls = decision.value().implicit_tls;
      if (h.credentials && level < TlsLevel::kFingerprint) {
        Warn("credentials for " + hop.verbatim + " would be sent over TLS that is not verified (level " + h.level +
                 ")",
             "set smtp_tls_security_level = secure (or remove it: authrelay then uses secure toward next hops "
             "with credentials)");
      }
      if (h.credentials && level == TlsLevel::kNone && !s_.allow_plaintext_auth) {
        Error("credentials exist for " + hop.verbatim + " but smtp_tls_security_level = none: authrelay will not "
                                                         "send them unencrypted and will defer",
              "use TLS (smtp_tls_security_level = secure)");
      }
      if (s_.tls.wrappermode && hop.port == 587) {
        Warn("smtp_tls_wrappermode = yes with port 587: port 587 normally speaks STARTTLS",
             "remove smtp_tls_wrappermode, or use port 465 for implicit TLS");
      }
      if (level >= TlsLevel::kVerify) CheckClientContext(tls_policy);
      if (level == TlsLevel::kFingerprint && s_.tls.fingerprint_cert_match.empty()) {
        Error("smtp_tls_security_level = fingerprint but smtp_tls_fingerprint_cert_match is empty",
              "add the server certificate's fingerprint");
      }
      hops_.push_back(std::move(h));
    }
  }

  const Context& ctx_;
  const Settings& s_;
  std::optional<TableList> tables_;
  std::vector<Problem> problems_;
  std::vector<HopReport> hops_;
  std::set<std::tuple<bool, bool, std::string, std::string, std::string, std::string, std::string, std::string,
                      std::string>>
      contexts_checked_;
};

}  // namespace

int RunCheck(const Options& o, const Context& ctx) {
  std::vector<std::string> nexthops;
  if (o.nexthop) nexthops.push_back(*o.nexthop);
  else if (std::string relayhost = ctx.cf.Get("relayhost"); !relayhost.empty()) nexthops.push_back(relayhost);
  Checker checker(ctx);
  checker.Run(nexthops);
  int rc = checker.Print(o.json);
  if (!o.json) share::PrintHeld(std::cout, ctx.cf);
  return rc;
}

}  // namespace authrelay
