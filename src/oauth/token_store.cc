#include "oauth/token_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "core/sanitize.h"
#include "core/unique_fd.h"
#include "log/log.h"

namespace authrelay {
namespace {

namespace pt = boost::property_tree;

Failure StoreFailure(const std::string& path, const std::string& why, std::string fix = {}) {
  return Failure("4.7.0", "OAuth token store unusable", "OAuth token store " + path + ": " + why).WithFix(std::move(fix));
}

Notice Why(const struct stat& st, uid_t owner) {
  if (!S_ISREG(st.st_mode)) return {"not a regular file", ""};
  if (st.st_uid != owner) {
    return {"owned by uid " + std::to_string(st.st_uid) + ", not by uid " + std::to_string(owner),
            "the pipe user; chown it"};
  }
  if (st.st_mode & 077) return {"readable or writable by others", "chmod 600 it"};
  return {};
}

// A top-level number; 0 when absent or not a number. (A JSON string
// "3600" counts: some endpoints send expires_in as a string.)
long long Number(const pt::ptree& t, const char* key) {
  auto child = t.get_child_optional(key);
  if (!child || !child->empty()) return 0;
  const std::string& v = child->data();
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(v);
}

// A top-level string; "" when absent or an object/array.
std::string Text(const pt::ptree& t, const char* key) {
  auto child = t.get_child_optional(key);
  if (!child || !child->empty()) return "";
  return child->data();
}

// The tree held copies of secrets: wipe every value in it.
void Wipe(pt::ptree& t) {
  for (auto& [key, node] : t) {
    Wipe(node);
    OPENSSL_cleanse(node.data().data(), node.data().size());
  }
  OPENSSL_cleanse(t.data().data(), t.data().size());
}

bool Usable(const TokenStore& s, long early, std::time_t now) {
  return !s.access_token.empty() && s.expires_at - static_cast<long long>(now) > early;
}

}  // namespace

Status RefreshTokenStore(TokenStore& store, const TokenHttpPost& post, std::time_t now) {
  if (store.token_endpoint.rfind("https://", 0) != 0) {
    return StoreFailure(store.path, "token_endpoint must be an https:// URL");
  }
  Secret body;
  FormAppend(body, "grant_type", store.grant_type);
  FormAppend(body, "client_id", store.client_id);
  if (!store.client_secret.empty()) FormAppend(body, "client_secret", store.client_secret.Reveal());
  if (store.grant_type == "refresh_token") {
    if (store.refresh_token.empty()) return StoreFailure(store.path, "no refresh_token", "enrol the account again");
    FormAppend(body, "refresh_token", store.refresh_token.Reveal());
  } else if (store.grant_type != "client_credentials") {
    return StoreFailure(store.path, "grant_type must be refresh_token or client_credentials");
  }
  if (!store.scope.empty()) FormAppend(body, "scope", store.scope);
  auto response = post(store.token_endpoint, body);
  if (!response.ok()) {
    return Failure("4.7.0", "OAuth token refresh failed: " + response.failure().text(), response.failure().detail());
  }
  TokenAnswer answer = ParseTokenAnswer(response.value());
  if (!answer.ok) {
    std::string url = store.token_endpoint.substr(0, store.token_endpoint.find('?'));
    log::Warning("OAuth token refresh for " + store.path + " refused by " + Printable(url, 200) + ": " +
                 answer.Said() + " (fix: " + OAuthRemedy(answer.error, answer.description) + ")");
    return Failure("4.7.0", "OAuth token refresh failed: " + answer.Said(),
                   "fix: " + OAuthRemedy(answer.error, answer.description));
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

std::string FormEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else if (c == ' ') out += '+';
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
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
  pt::ptree json;
  try {
    std::istringstream in(response.body);
    pt::read_json(in, json);
  } catch (const pt::ptree_error&) {
    return a;  // an HTML error page, a truncated body: just the status
  }
  a.error = Printable(Text(json, "error"), 100);
  a.description = Printable(Text(json, "error_description"), 300);
  std::string access = Text(json, "access_token");
  if (response.http_status == 200 && !access.empty()) {
    a.ok = true;
    a.access_token = Secret(std::move(access));
    a.expires_in = Number(json, "expires_in");
    a.refresh_token = Secret(Text(json, "refresh_token"));
  }
  Wipe(json);
  return a;
}

DeviceAuthorization ParseDeviceAuthorization(const TokenResponse& response) {
  DeviceAuthorization d;
  pt::ptree json;
  try {
    std::istringstream in(response.body);
    pt::read_json(in, json);
  } catch (const pt::ptree_error&) {
    return d;
  }
  d.device_code = Secret(Text(json, "device_code"));
  d.user_code = Printable(Text(json, "user_code"), 40);
  d.verification_uri = Text(json, "verification_uri");
  if (d.verification_uri.empty()) d.verification_uri = Text(json, "verification_url");
  d.verification_uri = Printable(d.verification_uri, 200);
  if (long long n = Number(json, "interval"); n > 0) d.interval = static_cast<long>(std::min<long long>(n, 60));
  if (long long n = Number(json, "expires_in"); n > 0) {
    d.expires_in = static_cast<long>(std::clamp<long long>(n, 30, 3600));
  }
  d.ok = response.http_status == 200 && !d.device_code.empty() && !d.user_code.empty() &&
         !d.verification_uri.empty();
  Wipe(json);
  return d;
}

Result<TokenStore> ReadTokenStore(const std::string& path) { return ReadTokenStore(path, geteuid()); }

Result<TokenStore> ReadTokenStore(const std::string& path, uid_t owner) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return StoreFailure(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st{};
  if (fstat(fd.get(), &st) != 0) return StoreFailure(path, std::strerror(errno));
  if (Notice why = Why(st, owner); !why.what.empty()) return StoreFailure(path, why.what, why.fix);
  if (st.st_size > 1 << 20) return StoreFailure(path, "larger than 1 MB");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  Secret wipe_text(std::move(text));
  return ParseTokenStore(path, wipe_text.Reveal());
}

Result<TokenStore> ParseTokenStore(const std::string& path, const std::string& text) {
  pt::ptree json;
  try {
    std::istringstream in(text);
    pt::read_json(in, json);
  } catch (const pt::json_parser_error& e) {
    return StoreFailure(path, "not valid JSON (line " + std::to_string(e.line()) + ")");
  }
  TokenStore s;
  s.path = path;
  s.token_endpoint = Text(json, "token_endpoint");
  s.client_id = Text(json, "client_id");
  s.client_secret = Secret(Text(json, "client_secret"));
  s.grant_type = Text(json, "grant_type");
  if (s.grant_type.empty()) s.grant_type = "refresh_token";
  s.scope = Text(json, "scope");
  s.refresh_token = Secret(Text(json, "refresh_token"));
  s.access_token = Secret(Text(json, "access_token"));
  s.expires_at = Number(json, "expires_at");
  s.refreshed_at = Number(json, "refreshed_at");
  s.refresh_token_issued_at = Number(json, "refresh_token_issued_at");
  s.provider = Text(json, "provider");
  Wipe(json);
  if (s.token_endpoint.empty() || s.client_id.empty()) {
    return StoreFailure(path, "token_endpoint and client_id are required");
  }
  return s;
}

Status WriteTokenStore(const TokenStore& s) {
  pt::ptree json;
  json.put("token_endpoint", s.token_endpoint);
  json.put("client_id", s.client_id);
  if (!s.client_secret.empty()) json.put("client_secret", s.client_secret.Reveal());
  json.put("grant_type", s.grant_type);
  if (!s.scope.empty()) json.put("scope", s.scope);
  if (!s.refresh_token.empty()) json.put("refresh_token", s.refresh_token.Reveal());
  if (!s.access_token.empty()) json.put("access_token", s.access_token.Reveal());
  json.put("expires_at", s.expires_at);
  json.put("refreshed_at", s.refreshed_at);
  json.put("refresh_token_issued_at", s.refresh_token_issued_at);
  if (!s.provider.empty()) json.put("provider", s.provider);
  std::ostringstream out;
  pt::write_json(out, json);
  Secret text(out.str());
  Wipe(json);

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
