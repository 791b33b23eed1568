#include "oauth/token_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "core/private_file.h"
#include "core/sanitize.h"
#include "core/unique_fd.h"
#include "oauth/jwt.h"
#include "log/log.h"

namespace authrelay {
namespace {

Failure StoreFailure(const std::string& path, const std::string& why, std::string fix = {}) {
  return Failure("4.7.0", "OAuth token store unusable", "OAuth token store " + path + ": " + why).WithFix(std::move(fix));
}

bool Usable(const TokenStore& s, long early, std::time_t now) {
  return !s.access_token.empty() && s.expires_at - static_cast<long long>(now) > early;
}

}  // namespace

Status RefreshTokenStore(TokenStore& store, const TokenHttpPost& post, std::time_t now) {
  if (store.token_endpoint.rfind("https://", 0) != 0) {
    return StoreFailure(store.path, "token_endpoint must be an https:// URL");
  }
  // sent keeps what an endpoint echoing our request must not make us
  // print, as sent and form-encoded (WithoutEchoes).
  Secret body;
  std::vector<Secret> sent;
  auto secret_field = [&](const char* name, const std::string& value) {
    FormAppend(body, name, value);
    sent.emplace_back(std::string(value));
    sent.emplace_back(FormEncode(value));
  };
  if (store.grant_type == "jwt_bearer") {
    // RFC 7523 §2.1: the signed JWT is the whole grant; no client_id.
    auto key = ReadServiceAccountKey(store.key_file, OwnerToJudgeAs(store.key_file));
    if (!key.ok()) return key.failure();
    if (store.subject.empty()) return StoreFailure(store.path, "no subject (the mailbox)", "enrol the account again");
    auto assertion = ServiceAccountAssertion(key.value(), store.subject, store.scope, store.token_endpoint, now);
    if (!assertion.ok()) return assertion.failure();
    FormAppend(body, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
    secret_field("assertion", assertion.value().Reveal());
  } else {
    FormAppend(body, "grant_type", store.grant_type);
    FormAppend(body, "client_id", store.client_id);
    if (!store.certificate.empty()) {
      // RFC 7523 §2.2: a client assertion signed with the certificate's key.
      auto assertion = CertificateAssertion(store.client_id, store.token_endpoint, store.certificate,
                                            store.private_key_file, OwnerToJudgeAs(store.private_key_file), now);
      if (!assertion.ok()) return assertion.failure();
      FormAppend(body, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      secret_field("client_assertion", assertion.value().Reveal());
    } else if (!store.client_secret.empty()) {
      secret_field("client_secret", store.client_secret.Reveal());
    }
    if (store.grant_type == "refresh_token") {
      if (store.refresh_token.empty()) return StoreFailure(store.path, "no refresh_token", "enrol the account again");
      secret_field("refresh_token", store.refresh_token.Reveal());
    } else if (store.grant_type != "client_credentials") {
      return StoreFailure(store.path, "grant_type must be refresh_token, client_credentials or jwt_bearer");
    }
    if (!store.scope.empty()) FormAppend(body, "scope", store.scope);
  }
  auto response = post(store.token_endpoint, body);
  if (!response.ok()) {
    return Failure("4.7.0", "OAuth token refresh failed: " + response.failure().text(), response.failure().detail());
  }
  TokenAnswer answer = ParseTokenAnswer(response.value());
  WipeBytes(response.value().body.data(), response.value().body.size());
  answer.error = WithoutEchoes(answer.error, sent);
  answer.description = WithoutEchoes(answer.description, sent);
  if (!answer.ok) {
    std::string url = store.token_endpoint.substr(0, store.token_endpoint.find('?'));
    log::Warning("OAuth token refresh for " + store.path + " refused by " + Printable(url, 200) + ": " +
                 answer.Said() + " (fix: " + OAuthRemedy(store, answer.error, answer.description) + ")");
    return Failure("4.7.0", "OAuth token refresh failed: " + answer.Said(),
                   "fix: " + OAuthRemedy(store, answer.error, answer.description));
  }
  store.access_token = std::move(answer.access_token);
  store.expires_at = static_cast<long long>(now) + (answer.expires_in > 0 ? answer.expires_in : 3600);
  store.refreshed_at = now;
  if (!answer.refresh_token.empty() && answer.refresh_token.Reveal() != store.refresh_token.Reveal()) {
    store.refresh_token = std::move(answer.refresh_token);
    store.refresh_token_issued_at = now;
  }
  return {};
}

std::string OAuthRemedy(const TokenStore& store, const std::string& error, const std::string& description) {
  // A refused assertion is about the key, the certificate or the grant of
  // rights, never about a refresh token or a secret.
  if (store.grant_type == "jwt_bearer") {
    if (error == "unauthorized_client") {
      return "domain-wide delegation is missing: in the Google Admin console (Security > API controls > Domain-wide "
             "delegation) allow the service account's client ID the scope https://mail.google.com/";
    }
    if (error == "invalid_scope") return "allow the scope https://mail.google.com/ in the domain-wide delegation";
    return "check that " + store.key_file + " holds a current key of the service account (IAM > Service accounts > "
           "Keys), that the account has domain-wide delegation, and that " + store.subject + " is a user of the domain";
  }
  if (!store.certificate.empty()) {
    if (description.find("AADSTS700027") != std::string::npos || description.find("AADSTS700023") != std::string::npos) {
      return "upload " + store.certificate + " to the app registration (Certificates & secrets) and check that " +
             store.private_key_file + " is its private key";
    }
    if (error == "invalid_client" || error == "unauthorized_client") {
      return "check client_id, the certificate registered with the app and its private key";
    }
  }
  return OAuthRemedy(error, description);
}

// error and description are the token endpoint's own answer (OAuth's
// "error" and "error_description"): the AADSTS numbers are Microsoft's
// error codes inside its description, not words of ours.
std::string OAuthRemedy(const std::string& error, const std::string& description) {
  if (description.find("AADSTS700082") != std::string::npos || description.find("AADSTS700084") != std::string::npos) {
    return "the refresh token expired after inactivity; enrol the account again";
  }
  if (description.find("AADSTS7000215") != std::string::npos) return "the client secret is wrong or expired; set a new one in the store";
  if (description.find("AADSTS50173") != std::string::npos) return "the password changed or sessions were revoked; enrol the account again";
  if (error == "invalid_grant") {
    return "the refresh token was revoked or expired (password change, or a Google app in testing mode: 7 days); "
           "enrol the account again";
  }
  if (error == "invalid_client" || error == "unauthorized_client") return "check client_id and client_secret in the store";
  if (error == "invalid_scope") return "check scope in the store";
  return "check the token store and the provider's console";
}

void FormAppend(Secret& form, std::string_view name, std::string_view value) {
  static const char* hex = "0123456789ABCDEF";
  if (!form.empty()) form += "&";
  form += name;
  form += "=";
  for (unsigned char c : value) {
    char enc[3] = {static_cast<char>(c), 0, 0};
    std::size_t n = 1;
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
    } else if (c == ' ') {
      enc[0] = '+';
    } else {
      enc[0] = '%';
      enc[1] = hex[c >> 4];
      enc[2] = hex[c & 15];
      n = 3;
    }
    form += std::string_view(enc, n);
    WipeBytes(enc, sizeof enc);
  }
}

void AppendFormEncoded(std::string& out, std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else if (c == ' ') out += '+';
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

std::string FormEncode(const std::string& s) {
  std::string out;
  AppendFormEncoded(out, s);
  return out;
}

std::string WithoutEchoes(const std::string& text, const std::vector<Secret>& sent) {
  // Any run of kMinEcho characters found in a secret we sent is part of it:
  // short enough for a piece of a token, long enough that ordinary words
  // ("invalid_grant: Token has") are never one.
  constexpr std::size_t kMinEcho = 12;
  auto in_sent = [&sent](std::string_view piece) {
    for (const Secret& s : sent) {
      if (s.Reveal().find(piece) != std::string::npos) return true;
    }
    return false;
  };
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t len = 0;
    if (text.size() - i >= kMinEcho && in_sent(std::string_view(text).substr(i, kMinEcho))) {
      len = kMinEcho;
      while (i + len < text.size() && in_sent(std::string_view(text).substr(i, len + 1))) ++len;
    }
    if (len == 0) {
      out += text[i++];
    } else {
      out += "[what we sent]";
      i += len;
    }
  }
  return out;
}

std::string FormDecode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string TokenAnswer::Said() const {
  std::string said = error.empty() ? "HTTP " + std::to_string(http_status) : error;
  if (!description.empty()) said += ": " + description;
  return said;
}

TokenAnswer ParseTokenAnswer(const TokenResponse& response) {
  TokenAnswer a;
  a.http_status = response.http_status;
  auto parsed = ParseJson(response.body);
  if (!parsed) return a;  // an HTML error page, a truncated body: just the status
  Json& json = *parsed;
  JsonWiper wipe(json);
  a.error = Printable(JsonText(json, "error"), 100);
  a.description = Printable(JsonText(json, "error_description"), 300);
  std::string access = JsonText(json, "access_token");
  if (response.http_status == 200 && !access.empty()) {
    a.ok = true;
    a.access_token = Secret(std::move(access));
    a.expires_in = JsonNumber(json, "expires_in");
    a.refresh_token = Secret(JsonText(json, "refresh_token"));
  }
  return a;
}

DeviceAuthorization ParseDeviceAuthorization(const TokenResponse& response) {
  DeviceAuthorization d;
  auto parsed = ParseJson(response.body);
  if (!parsed) return d;
  Json& json = *parsed;
  JsonWiper wipe(json);
  d.device_code = Secret(JsonText(json, "device_code"));
  d.user_code = Printable(JsonText(json, "user_code"), 40);
  d.verification_uri = JsonText(json, "verification_uri");
  if (d.verification_uri.empty()) d.verification_uri = JsonText(json, "verification_url");
  d.verification_uri = Printable(d.verification_uri, 200);
  if (long long n = JsonNumber(json, "interval"); n > 0) d.interval = static_cast<long>(std::min<long long>(n, 60));
  if (long long n = JsonNumber(json, "expires_in"); n > 0) {
    d.expires_in = static_cast<long>(std::clamp<long long>(n, 30, 3600));
  }
  d.ok = response.http_status == 200 && !d.device_code.empty() && !d.user_code.empty() &&
         !d.verification_uri.empty();
  return d;
}

Result<TokenStore> ReadTokenStore(const std::string& path) { return ReadTokenStore(path, geteuid()); }

Result<TokenStore> ReadTokenStore(const std::string& path, uid_t owner) {
  Secret text;
  if (Notice why = ReadPrivateFile(path, owner, 1 << 20, &text); !why.what.empty()) {
    return StoreFailure(path, why.what, why.fix);
  }
  return ParseTokenStore(path, text.Reveal());
}

Result<TokenStore> ParseTokenStore(const std::string& path, const std::string& text) {
  std::size_t error_at = 0;
  auto parsed = ParseJson(text, &error_at);
  if (!parsed) return StoreFailure(path, "not valid JSON (at byte " + std::to_string(error_at) + ")");
  Json& json = *parsed;
  JsonWiper wipe(json);
  if (!json.is_object()) return StoreFailure(path, "not a JSON object");
  TokenStore s;
  s.path = path;
  s.token_endpoint = JsonText(json, "token_endpoint");
  s.client_id = JsonText(json, "client_id");
  s.client_secret = Secret(JsonText(json, "client_secret"));
  s.grant_type = JsonText(json, "grant_type");
  if (s.grant_type.empty()) s.grant_type = "refresh_token";
  s.scope = JsonText(json, "scope");
  s.refresh_token = Secret(JsonText(json, "refresh_token"));
  s.access_token = Secret(JsonText(json, "access_token"));
  s.expires_at = JsonNumber(json, "expires_at");
  s.refreshed_at = JsonNumber(json, "refreshed_at");
  s.refresh_token_issued_at = JsonNumber(json, "refresh_token_issued_at");
  s.provider = JsonText(json, "provider");
  s.key_file = JsonText(json, "key_file");
  s.subject = JsonText(json, "subject");
  s.certificate = JsonText(json, "certificate");
  s.private_key_file = JsonText(json, "private_key_file");
  if (s.token_endpoint.empty() || s.client_id.empty()) {
    return StoreFailure(path, "token_endpoint and client_id are required");
  }
  return s;
}

Secret TokenStoreJson(const TokenStore& s) {
  // Numbers as JSON numbers, '/' unescaped: jq and monitoring read the
  // store as the README shows it.
  Json json = Json::object();
  JsonWiper wipe(json);
  json["token_endpoint"] = s.token_endpoint;
  json["client_id"] = s.client_id;
  if (!s.client_secret.empty()) json["client_secret"] = s.client_secret.Reveal();
  json["grant_type"] = s.grant_type;
  if (!s.scope.empty()) json["scope"] = s.scope;
  if (!s.refresh_token.empty()) json["refresh_token"] = s.refresh_token.Reveal();
  if (!s.access_token.empty()) json["access_token"] = s.access_token.Reveal();
  json["expires_at"] = s.expires_at;
  json["refreshed_at"] = s.refreshed_at;
  json["refresh_token_issued_at"] = s.refresh_token_issued_at;
  if (!s.provider.empty()) json["provider"] = s.provider;
  if (!s.key_file.empty()) json["key_file"] = s.key_file;
  if (!s.subject.empty()) json["subject"] = s.subject;
  if (!s.certificate.empty()) json["certificate"] = s.certificate;
  if (!s.private_key_file.empty()) json["private_key_file"] = s.private_key_file;
  return Secret(DumpJson(json, 2) + "\n");
}

Status WriteTokenStore(const TokenStore& s) {
  Secret text = TokenStoreJson(s);
  std::string tmp = s.path + ".tmp." + std::to_string(getpid());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return StoreFailure(s.path, "cannot write " + tmp + ": " + std::strerror(errno));
  const std::string& t = text.Reveal();
  bool ok = write(fd.get(), t.data(), t.size()) == static_cast<ssize_t>(t.size()) && fsync(fd.get()) == 0;
  if (!ok || rename(tmp.c_str(), s.path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    unlink(tmp.c_str());
    return StoreFailure(s.path, "cannot replace it: " + why);
  }
  // The rename itself must reach the disk before the old refresh token is
  // forgotten by the provider's side of a rotation.
  std::string dir = s.path.substr(0, s.path.rfind('/') == std::string::npos ? 0 : s.path.rfind('/'));
  UniqueFd dfd(open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) fsync(dfd.get());
  return {};
}

Result<Secret> GetAccessToken(const std::string& path, const TokenPolicy& policy, const TokenHttpPost& post,
                              bool* refreshed, std::time_t now) {
  if (refreshed) *refreshed = false;
  auto first = ReadTokenStore(path);
  if (!first.ok()) return first.failure();
  auto refused = [&](const TokenStore& s) {
    return policy.refused_token != nullptr && s.access_token.Reveal() == policy.refused_token->Reveal();
  };
  if (!refused(first.value()) && Usable(first.value(), policy.early_refresh_seconds, now)) {
    return Secret(std::string(first.value().access_token.Reveal()));
  }
  // One refresher at a time; the others wait here and then find its token.
  std::string lock_path = path + ".lock";
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (lock.get() < 0) return StoreFailure(path, "cannot open " + lock_path + ": " + std::strerror(errno));
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(policy.lock_wait_seconds);
  while (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return StoreFailure(path, std::string("cannot lock: ") + std::strerror(errno));
    if (std::chrono::steady_clock::now() > give_up) {
      return Failure("4.7.0", "OAuth token refresh timed out", "another process holds " + lock_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto store = ReadTokenStore(path);  // as the last refresher left it
  if (!store.ok()) return store.failure();
  TokenStore& s = store.value();
  if (!refused(s) && Usable(s, policy.early_refresh_seconds, now)) {
    return Secret(std::string(s.access_token.Reveal()));
  }
  if (Status st = RefreshTokenStore(s, post, now); !st.ok()) return st.failure();
  if (Status st = WriteTokenStore(s); !st.ok()) return st.failure();
  if (refreshed) *refreshed = true;
  log::Info("OAuth access token for " + path + " refreshed; valid until " + std::to_string(s.expires_at));
  return Secret(std::string(s.access_token.Reveal()));
}

}  // namespace authrelay
