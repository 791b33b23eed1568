#include "oauth/enrol.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <istream>
#include <ostream>
#include <sstream>

#include "core/base64.h"
#include "core/private_file.h"
#include "core/sanitize.h"
#include "oauth/jwt.h"

namespace authrelay {
namespace {

Failure EnrolFailure(const std::string& what) { return Failure("4.7.0", "OAuth enrolment failed: " + what); }
Failure Usage(const std::string& what) { return Failure("4.3.5", "--oauth-enrol: " + what); }

std::string RandomToken(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) return "";
  return Base64UrlEncode(raw);
}

// A query parameter's value from "...?a=1&b=2#frag" (decoded), or "".
std::string QueryValue(const std::string& url, const std::string& name) {
  std::size_t q = url.find_first_of("?#");
  std::string query = q == std::string::npos ? url : url.substr(q + 1);
  std::istringstream in(query);
  std::string part;
  while (std::getline(in, part, '&')) {
    std::size_t hash = part.find('#');
    if (hash != std::string::npos) part = part.substr(0, hash);
    std::size_t eq = part.find('=');
    if (eq != std::string::npos && part.substr(0, eq) == name) return FormDecode(part.substr(eq + 1));
  }
  return "";
}

bool Https(const std::string& url) { return url.rfind("https://", 0) == 0; }

// A store holding the app registration of the request, no tokens yet.
TokenStore Registration(const EnrolRequest& r, const char* grant_type) {
  TokenStore s;
  s.path = r.store_path;
  s.provider = r.provider;
  s.token_endpoint = r.token_endpoint;
  s.client_id = r.client_id;
  s.client_secret = Secret(std::string(r.client_secret.Reveal()));
  s.grant_type = grant_type;
  s.scope = r.scope;
  return s;
}

// The store every successful user flow ends with.
Result<TokenStore> StoreFromAnswer(const EnrolRequest& r, TokenAnswer answer, std::time_t now) {
  if (answer.refresh_token.empty()) {
    return EnrolFailure("the provider issued an access token but no refresh token (Microsoft: the scope needs "
                        "offline_access; Google: the consent screen must be shown again, revoke the app's access "
                        "at myaccount.google.com/permissions and enrol again)");
  }
  TokenStore s = Registration(r, "refresh_token");
  // Microsoft wants the scope again on refresh; Google keeps the granted one.
  if (r.provider == "google") s.scope.clear();
  s.refresh_token = std::move(answer.refresh_token);
  s.access_token = std::move(answer.access_token);
  s.expires_at = static_cast<long long>(now) + (answer.expires_in > 0 ? answer.expires_in : 3600);
  s.refreshed_at = now;
  s.refresh_token_issued_at = now;
  return s;
}

std::string Refused(const TokenAnswer& a) {
  return a.Said() + " (fix: " + OAuthRemedy(a.error, a.description) + ")";
}

Result<TokenStore> DeviceFlow(const EnrolRequest& r, const TokenHttpPost& post, EnrolIo& io) {
  Secret form("client_id=" + FormEncode(r.client_id) + "&scope=" + FormEncode(r.scope));
  auto response = post(r.device_endpoint, form);
  if (!response.ok()) return EnrolFailure(response.failure().text() + " " + response.failure().detail());
  DeviceAuthorization device = ParseDeviceAuthorization(response.value());
  if (!device.ok) {
    TokenAnswer a = ParseTokenAnswer(response.value());
    return EnrolFailure("the device authorization endpoint refused: " + Refused(a));
  }
  long interval = device.interval;
  long lifetime = device.expires_in;
  io.out << "To sign in, open " << device.verification_uri << " in any browser and enter the code "
         << device.user_code
         << "\n(as the mailbox user; the code expires in " << (lifetime + 59) / 60 << " min). Waiting...\n"
         << std::flush;
  Secret poll;
  FormAppend(poll, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
  FormAppend(poll, "client_id", r.client_id);
  if (!r.client_secret.empty()) FormAppend(poll, "client_secret", r.client_secret.Reveal());
  FormAppend(poll, "device_code", device.device_code.Reveal());
  std::time_t give_up = io.now() + lifetime;
  while (io.now() < give_up) {
    io.sleep(interval);
    auto polled = post(r.token_endpoint, poll);
    if (!polled.ok()) return EnrolFailure(polled.failure().text() + " " + polled.failure().detail());
    TokenAnswer a = ParseTokenAnswer(polled.value());
    if (a.ok) return StoreFromAnswer(r, std::move(a), io.now());
    if (a.error == "authorization_pending") continue;
    if (a.error == "slow_down") {
      interval += 5;  // RFC 8628 §3.5
      continue;
    }
    if (a.error == "access_denied" || a.error == "authorization_declined") {
      return EnrolFailure("the sign-in was declined (" + a.Said() + "); run --oauth-enrol again and accept");
    }
    if (a.error == "expired_token") break;
    return EnrolFailure("the token endpoint refused: " + Refused(a));
  }
  return EnrolFailure("the code was not used in time; run --oauth-enrol again");
}

Result<TokenStore> CodeFlow(const EnrolRequest& r, const TokenHttpPost& post, EnrolIo& io) {
  std::string verifier = RandomToken(32);
  std::string state = RandomToken(16);
  if (verifier.empty() || state.empty()) return EnrolFailure("no random bytes from OpenSSL");
  std::string url = r.authorize_endpoint + (r.authorize_endpoint.find('?') == std::string::npos ? "?" : "&") +
                    "response_type=code&client_id=" + FormEncode(r.client_id) +
                    "&redirect_uri=" + FormEncode(r.redirect_uri) + "&scope=" + FormEncode(r.scope) +
                    "&code_challenge=" + PkceChallenge(verifier) + "&code_challenge_method=S256&state=" + state;
  // Google hands out a refresh token only for offline access, and only
  // with the consent screen shown.
  if (r.provider == "google") url += "&access_type=offline&prompt=consent";
  io.out << "1. Open this address in a browser and sign in as the mailbox user:\n\n" << url << "\n\n"
         << "2. The browser then goes to " << r.redirect_uri
         << "/?...code=... and shows an error page: that is expected.\n"
         << "   Copy the whole address from the address bar, paste it here and press Enter:\n"
         << std::flush;
  std::string pasted;
  if (!std::getline(io.in, pasted)) return EnrolFailure("nothing was pasted");
  auto code = CodeFromPasted(std::string(Trim(pasted)), state);
  if (!code.ok()) return code.failure();
  Secret form;
  FormAppend(form, "grant_type", "authorization_code");
  FormAppend(form, "code", code.value());
  FormAppend(form, "redirect_uri", r.redirect_uri);
  FormAppend(form, "client_id", r.client_id);
  if (!r.client_secret.empty()) FormAppend(form, "client_secret", r.client_secret.Reveal());
  form += "&code_verifier=";
  form += verifier;
  OPENSSL_cleanse(code.value().data(), code.value().size());
  auto response = post(r.token_endpoint, form);
  if (!response.ok()) return EnrolFailure(response.failure().text() + " " + response.failure().detail());
  TokenAnswer a = ParseTokenAnswer(response.value());
  if (!a.ok) {
    return EnrolFailure("the token endpoint refused the code: " + Refused(a) +
                        (a.error == "invalid_grant" ? "; codes work once and for a few minutes: run --oauth-enrol again"
                                                    : ""));
  }
  return StoreFromAnswer(r, std::move(a), io.now());
}

// The flows without a person: one token fetched now proves the
// registration (and the delegation), and is cached in the store.
Result<TokenStore> FetchFirst(TokenStore s, const TokenHttpPost& post, EnrolIo& io, const std::string& works) {
  std::time_t now = io.now();
  if (Status st = RefreshTokenStore(s, post, now); !st.ok()) {
    return Failure(st.failure().dsn(), "OAuth enrolment failed: " + st.failure().text(), st.failure().detail());
  }
  io.out << works << ": the token endpoint issued an access token.\n";
  return s;
}

Result<TokenStore> AppOnly(const EnrolRequest& r, const TokenHttpPost& post, EnrolIo& io) {
  TokenStore s = Registration(r, "client_credentials");
  if (!r.certificate.empty()) {
    s.client_secret = Secret();
    s.certificate = r.certificate;
    s.private_key_file = r.private_key;
    return FetchFirst(std::move(s), post, io, "The certificate works");
  }
  return FetchFirst(std::move(s), post, io, "The client secret works");
}

Result<TokenStore> ServiceAccount(const EnrolRequest& r, const TokenHttpPost& post, EnrolIo& io) {
  TokenStore s = Registration(r, "jwt_bearer");
  s.client_secret = Secret();
  s.key_file = r.key_file;
  s.subject = r.subject;
  return FetchFirst(std::move(s), post, io, "The service account may act for " + r.subject);
}

}  // namespace

std::string PkceChallenge(const std::string& verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Result<std::string> CodeFromPasted(const std::string& pasted, const std::string& expected_state) {
  if (pasted.empty()) return EnrolFailure("nothing was pasted");
  bool address = pasted.find("code=") != std::string::npos || pasted.find("error=") != std::string::npos ||
                 pasted.find("://") != std::string::npos;
  if (!address) return pasted;  // the bare code
  std::string error = QueryValue(pasted, "error");
  if (!error.empty()) {
    return EnrolFailure("the provider refused the sign-in: " + Printable(error, 100) + " " +
                        Printable(QueryValue(pasted, "error_description"), 200));
  }
  std::string state = QueryValue(pasted, "state");
  if (!state.empty() && state != expected_state) {
    return EnrolFailure("the pasted address belongs to another sign-in (state differs); run --oauth-enrol again");
  }
  std::string code = QueryValue(pasted, "code");
  if (code.empty()) return EnrolFailure("the pasted address has no code= in it; copy the whole address");
  return code;
}

Result<EnrolRequest> CompleteEnrolRequest(EnrolRequest r) {
  if (r.store_path.empty() || r.store_path[0] != '/') return Usage("the token store must be an absolute path");
  if (r.flow == "service-account") {
    // Everything but the mailbox comes from Google's key file.
    if (r.key_file.empty() || r.key_file[0] != '/') {
      return Usage("the service-account flow needs --key-file=/absolute/path/key.json (the service account's JSON key)");
    }
    if (r.subject.find('@') == std::string::npos) {
      return Usage("the service-account flow needs --subject=MAILBOX (the Workspace user to send as)");
    }
    auto key = ReadServiceAccountKey(r.key_file, OwnerToJudgeAs(r.key_file));
    if (!key.ok()) return Usage(key.failure().detail());
    if (r.provider.empty()) r.provider = "google";
    if (r.client_id.empty()) r.client_id = key.value().client_email;
    if (r.token_endpoint.empty()) r.token_endpoint = key.value().token_uri;
    if (r.scope.empty()) r.scope = "https://mail.google.com/";
    if (!Https(r.token_endpoint)) return Usage("endpoints must be https:// URLs: " + Printable(r.token_endpoint, 200));
    return r;
  }
  if (r.client_id.empty()) return Usage("--client-id is required (from the provider's app registration)");
  if (r.provider == "google") {
    if (r.flow.empty()) r.flow = "code";
    if (r.authorize_endpoint.empty()) r.authorize_endpoint = "https://accounts.google.com/o/oauth2/v2/auth";
    if (r.token_endpoint.empty()) r.token_endpoint = "https://oauth2.googleapis.com/token";
    if (r.scope.empty()) r.scope = "https://mail.google.com/";
  } else if (r.provider == "microsoft") {
    if (r.tenant.empty()) r.tenant = r.flow == "client-credentials" ? "" : "common";
    if (r.tenant.empty()) return Usage("app-only sending needs --tenant=YOUR-TENANT-ID (or domain)");
    if (r.tenant.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
        std::string::npos) {
      return Usage("--tenant must be a tenant ID or domain name");
    }
    std::string base = "https://login.microsoftonline.com/" + r.tenant + "/oauth2/v2.0/";
    if (r.flow.empty()) r.flow = "device";
    if (r.authorize_endpoint.empty()) r.authorize_endpoint = base + "authorize";
    if (r.token_endpoint.empty()) r.token_endpoint = base + "token";
    if (r.device_endpoint.empty()) r.device_endpoint = base + "devicecode";
    if (r.scope.empty()) {
      r.scope = r.flow == "client-credentials" ? "https://outlook.office365.com/.default"
                                               : "offline_access https://outlook.office.com/SMTP.Send";
    }
  } else if (!r.provider.empty()) {
    return Usage("--provider must be google or microsoft (or left out, with every endpoint given)");
  }
  if (r.flow.empty()) r.flow = r.device_endpoint.empty() ? "code" : "device";
  if (r.redirect_uri.empty()) r.redirect_uri = "http://localhost";
  if (r.token_endpoint.empty()) return Usage("--token-endpoint is required without --provider");
  if (r.flow == "device" && r.device_endpoint.empty()) return Usage("the device flow needs --device-endpoint");
  if (r.flow == "code" && r.authorize_endpoint.empty()) return Usage("the code flow needs --authorize-endpoint");
  if (r.certificate.empty() != r.private_key.empty()) {
    return Usage("a certificate needs both --certificate=CERT.pem and --key=KEY.pem");
  }
  if (!r.certificate.empty()) {
    if (r.flow != "client-credentials") return Usage("--certificate is for --flow=client-credentials");
    if (r.certificate[0] != '/' || r.private_key[0] != '/') return Usage("--certificate and --key need absolute paths");
    if (!r.client_secret.empty()) return Usage("give either --client-secret-file or --certificate/--key, not both");
    if (auto cert = ReadCertificate(r.certificate); !cert.ok()) return Usage(cert.failure().detail());
  }
  if (r.flow == "client-credentials" && r.client_secret.empty() && r.certificate.empty()) {
    return Usage("app-only sending needs --client-secret-file, or (as Microsoft advises) --certificate=CERT.pem with --key=KEY.pem");
  }
  if (r.flow != "device" && r.flow != "code" && r.flow != "client-credentials") {
    return Usage("--flow must be device, code, client-credentials or service-account");
  }
  for (const std::string* url : {&r.token_endpoint, &r.device_endpoint, &r.authorize_endpoint}) {
    if (!url->empty() && !Https(*url)) return Usage("endpoints must be https:// URLs: " + Printable(*url, 200));
  }
  return r;
}

Result<TokenStore> Enrol(const EnrolRequest& r, const TokenHttpPost& post, EnrolIo io) {
  if (r.flow == "device") return DeviceFlow(r, post, io);
  if (r.flow == "code") return CodeFlow(r, post, io);
  if (r.flow == "service-account") return ServiceAccount(r, post, io);
  return AppOnly(r, post, io);
}

}  // namespace authrelay
