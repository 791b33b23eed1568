// The OAuth ops commands: what a token store holds, and enrolling one.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "core/sanitize.h"
#include "delivery/context.h"
#include "delivery/report.h"
#include "net/proxy.h"
#include "oauth/enrol.h"
#include "oauth/http_client.h"
#include "oauth/jwt.h"
#include "oauth/lifetime.h"
#include "oauth/token_store.h"
#include "smtp/nexthop.h"

namespace authrelay {
namespace {

std::string UtcDate(long long when) {
  std::time_t t = static_cast<std::time_t>(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

int PrintFailure(const Failure& f) {
  std::cout << FailureReport(f).line << "\n";
  if (!f.detail().empty()) std::cout << f.detail() << "\n";
  return kExitTempFail;
}

// The first line of a file, trimmed; a client secret never goes on argv.
Result<Secret> ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Failure("4.3.5", "--client-secret-file: cannot read " + Printable(path, 200));
  std::string line;
  std::getline(in, line);
  Secret secret{std::string(Trim(line))};
  OPENSSL_cleanse(line.data(), line.size());
  if (secret.empty()) return Failure("4.3.5", "--client-secret-file: " + Printable(path, 200) + " is empty");
  return secret;
}

// The proxy a token request goes through, the one a delivery's own token
// refresh would use: that of --nexthop when given (authrelay_proxy_maps,
// where proxy credentials live), else authrelay_proxy; nullptr for none.
Result<std::shared_ptr<const Secret>> TokenProxy(const Options& o, const Context& ctx) {
  std::string verbatim, host;
  if (o.nexthop && !o.nexthop->empty()) {
    auto hops = ParseNextHops(*o.nexthop);
    if (!hops.ok()) return hops.failure();
    if (hops.value().empty()) return Failure("4.3.5", "--nexthop: no next hop in \"" + Printable(*o.nexthop, 200) + "\"");
    verbatim = hops.value().front().verbatim;
    host = hops.value().front().host;
  }
  auto proxy = FindProxy(ctx.cf.Get("authrelay_proxy"), verbatim.empty() ? std::string() : ctx.cf.Get("authrelay_proxy_maps"),
                         verbatim, host);
  if (!proxy.ok()) return proxy.failure();
  if (!proxy.value()) return std::shared_ptr<const Secret>();
  return std::make_shared<const Secret>(proxy.value()->CurlUrl());
}

}  // namespace

// --oauth-status STORE [--refresh]: what the store holds, never a secret;
// with --refresh, a valid access token is made sure of first (the way a
// delivery would get it: at most one refresh across concurrent callers).
int RunOAuthStatus(const Options& o, const Context& ctx) {
  const Settings& s = ctx.settings;
  std::time_t now = std::time(nullptr);
  if (o.refresh) {
    bool refreshed = false;
    TokenPolicy token_policy;
    token_policy.early_refresh_seconds = s.oauth_refresh_window;
    auto proxy = TokenProxy(o, ctx);
    if (!proxy.ok()) return PrintFailure(proxy.failure());
    auto token = GetAccessToken(o.target, token_policy, MakeCurlPost(s.tls.ca_file, s.tls.ca_path, 30, proxy.value()),
                                &refreshed, now);
    if (!token.ok()) {
      std::cout << FailureReport(token.failure()).line << "\n";
      if (!token.failure().detail().empty()) std::cout << token.failure().detail() << "\n";
      return kExitTempFail;
    }
    std::cout << (refreshed ? "access token refreshed" : "access token still valid; not refreshed") << "\n";
  }
  auto store = ReadTokenStore(o.target);
  if (!store.ok()) {
    std::cout << FailureReport(store.failure()).line << "\n" << store.failure().detail() << "\n";
    return kExitTempFail;
  }
  const TokenStore& t = store.value();
  auto ago = [&](long long when) {
    return when <= 0 ? std::string("never") : std::to_string((now - when) / 3600) + " hours ago";
  };
  std::cout << "store: " << t.path << "\n"
            << "token endpoint: " << Printable(t.token_endpoint, 200) << "\n"
            << "grant: " << Printable(t.grant_type, 50) << "\n"
            << "access token: "
            << (t.access_token.empty() ? std::string("none")
                : t.expires_at > now ? "valid for " + std::to_string((t.expires_at - now) / 60) + " more minutes"
                                     : "expired " + std::to_string((now - t.expires_at) / 60) + " minutes ago")
            << "\n"
            << "last refresh: " << ago(t.refreshed_at) << "\n";
  if (t.grant_type == "jwt_bearer") {
    // Paths from the store are shown Printable too: a line end in one must
    // not forge a line of this report.
    std::cout << "service account: " << Printable(t.client_id, 200) << ", key file " << Printable(t.key_file, 300)
              << ", acting for " << Printable(t.subject, 200) << "\n";
  }
  if (!t.certificate.empty()) {
    std::cout << "client assertion: certificate " << Printable(t.certificate, 300) << ", key "
              << Printable(t.private_key_file, 300) << "\n";
    auto cert = ReadCertificate(t.certificate);
    if (!cert.ok()) {
      std::cout << "certificate UNUSABLE: " << cert.failure().detail() << "\n";
    } else {
      std::cout << "certificate thumbprint (x5t#S256): " << cert.value().x5t_s256 << ", expires "
                << UtcDate(cert.value().not_after) << "\n";
    }
  }
  if (t.UsesAssertion()) {
    std::cout << "no refresh token: a new access token is fetched with a signed assertion whenever it runs out; "
                 "nothing expires but the key"
              << (t.certificate.empty() ? "" : " and the certificate") << "\n";
  }
  if (t.grant_type == "refresh_token") {
    std::cout << "refresh token: " << (t.refresh_token.empty() ? "none (enrol the account)" : "present")
              << ", issued " << ago(t.refresh_token_issued_at) << "\n";
    RefreshTokenOutlook outlook = RefreshTokenOutlookFor(t);
    if (outlook.dies_at > 0) {
      std::cout << "refresh token likely to work until " << UtcDate(outlook.dies_at) << " ("
                << (outlook.dies_at - now + 86399) / 86400 << " days): " << outlook.why << "\n";
    } else {
      std::cout << "refresh token lifetime: no limit known for this provider\n";
    }
  }
  return kExitOk;
}


// --oauth-enrol STORE: run the provider's sign-in flow and write the store.
int RunOAuthEnrol(const Options& o, const Context& ctx) {
  const Settings& s = ctx.settings;
  const OAuthEnrolArgs& a = o.enrol;
  EnrolRequest r;
  r.store_path = o.target;
  r.provider = a.provider;
  r.flow = a.flow;
  r.client_id = a.client_id;
  r.tenant = a.tenant;
  r.scope = a.scope;
  r.authorize_endpoint = a.authorize_endpoint;
  r.token_endpoint = a.token_endpoint;
  r.device_endpoint = a.device_endpoint;
  r.redirect_uri = a.redirect_uri;
  r.key_file = a.key_file;
  r.subject = a.subject;
  r.certificate = a.certificate;
  r.private_key = a.key;
  if (!a.client_secret_file.empty()) {
    auto secret = ReadSecretFile(a.client_secret_file);
    if (!secret.ok()) return PrintFailure(secret.failure());
    r.client_secret = std::move(secret).value();
  }
  auto complete = CompleteEnrolRequest(std::move(r));
  if (!complete.ok()) return PrintFailure(complete.failure());
  const EnrolRequest& req = complete.value();

  // Never replace something that is not our own store file.
  std::string dir = req.store_path.substr(0, std::max<std::size_t>(1, req.store_path.rfind('/')));
  struct stat dst{};
  if (stat(dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode)) {
    return PrintFailure(Failure("4.3.5", "--oauth-enrol: no directory " + dir + " (create it, mode 700, owned by "
                                         "the pipe user: authrelay-setup makes /var/lib/authrelay)"));
  }
  struct stat st{};
  if (lstat(req.store_path.c_str(), &st) == 0 && (!S_ISREG(st.st_mode) || (st.st_uid != geteuid() && geteuid() != 0))) {
    return PrintFailure(Failure("4.3.5", "--oauth-enrol: " + req.store_path +
                                         " exists and is not a regular file of uid " + std::to_string(geteuid()) +
                                         "; remove it or choose another path"));
  }

  EnrolIo io{std::cin, std::cout,
             [](long seconds) { std::this_thread::sleep_for(std::chrono::seconds(seconds)); },
             [] { return std::time(nullptr); }};
  auto proxy = TokenProxy(o, ctx);
  if (!proxy.ok()) return PrintFailure(proxy.failure());
  auto store = Enrol(req, MakeCurlPost(s.tls.ca_file, s.tls.ca_path, 30, proxy.value()), io);
  if (!store.ok()) return PrintFailure(store.failure());
  if (Status w = WriteTokenStore(store.value()); !w.ok()) return PrintFailure(w.failure());

  // Deliveries run as the pipe user and accept only a store it owns. Run as
  // root, the store takes its directory's owner (authrelay-setup makes
  // /var/lib/authrelay the pipe user's).
  std::string owner_note;
  if (geteuid() == 0) {
    if (dst.st_uid != 0 && chown(req.store_path.c_str(), dst.st_uid, dst.st_gid) == 0) {
      owner_note = "owned by uid " + std::to_string(dst.st_uid) + " (the owner of " + dir + ")";
    } else {
      owner_note = "owned by root: deliveries run as the pipe user and will refuse it; chown it to the user= of "
                   "the master.cf entry";
    }
  } else {
    owner_note = "owned by uid " + std::to_string(geteuid()) + " (deliveries must run as this user)";
  }
  std::cout << "enrolled: " << req.store_path << ", mode 600, " << owner_note << "\n"
            << "in smtp_sasl_password_maps, for the next hop: MAILBOX-ADDRESS:oauth2:" << req.store_path << "\n";
  RefreshTokenOutlook outlook = RefreshTokenOutlookFor(store.value());
  if (outlook.dies_at > 0) {
    std::cout << "the refresh token is likely to work until " << UtcDate(outlook.dies_at) << ": " << outlook.why
              << "\n";
  }
  return kExitOk;
}

}  // namespace authrelay
