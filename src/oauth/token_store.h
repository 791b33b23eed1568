// OAuth 2.0 token stores (docs/DESIGN.md §7.4): one JSON file per account, named by a
// credentials map value "user@example.com:oauth2:/path/to/store.json".
//
// The file holds the client registration, the refresh token and the
// current access token. Every delivery is its own process, so the store is
// the cache they share:
//  - an access token is used as is while it has more than the early-refresh
//    window left;
//  - otherwise one process refreshes, under an exclusive flock() on
//    "<store>.lock"; the others wait on that lock, then find the fresh token
//    in the file and send no request of their own;
//  - the file is replaced atomically (temporary file, fsync, rename, fsync
//    of the directory): a crash or kill -9 at any point leaves either the
//    old store or the new one, never a torn one, so a rotated refresh token
//    is never lost;
//  - it is used only if it is a regular file owned by us with mode 0600.
// Secrets never leave as text except in the HTTP request and the AUTH line.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/secret.h"

namespace authrelay {

struct TokenStore {
  std::string path;
  std::string token_endpoint;  // https://oauth2.googleapis.com/token
  std::string client_id;
  Secret client_secret;
  // "refresh_token" (a person enrolled), "client_credentials" (Microsoft 365
  // app-only: a client secret, or a certificate and its key), or
  // "jwt_bearer" (Google service account with domain-wide delegation).
  std::string grant_type = "refresh_token";
  std::string scope;                         // client_credentials: https://outlook.office365.com/.default
  Secret refresh_token;
  Secret access_token;
  long long expires_at = 0;               // unix time the access token stops working
  long long refreshed_at = 0;             // last successful refresh
  long long refresh_token_issued_at = 0;  // when the current refresh token arrived
  std::string provider;                   // "google", "microsoft" or "" (token lifetimes, --check)
  // jwt_bearer: the service account's JSON key file and the mailbox the
  // token is for (the JWT's sub). client_id holds the client_email.
  std::string key_file;
  std::string subject;
  // client_credentials with a certificate: the PEM certificate registered
  // with the app and its private key (a PEM file of the pipe user, 0600).
  std::string certificate;
  std::string private_key_file;
  // Signed assertions instead of a refresh token or a secret: a token is
  // fetched whenever the cached one runs out, nothing expires but the key.
  bool UsesAssertion() const { return grant_type == "jwt_bearer" || !certificate.empty(); }
};

// Reads and checks a store: a regular file of ours, mode 0600. Failure
// 4.7.0 naming the file and the fix. owner: whose it must be (--check run
// as root judges a store as its owner, the pipe user, will).
Result<TokenStore> ReadTokenStore(const std::string& path);
Result<TokenStore> ReadTokenStore(const std::string& path, uid_t owner);
// The JSON text of a store read from path (no file access; fuzzed).
Result<TokenStore> ParseTokenStore(const std::string& path, const std::string& text);
// The JSON text of a store (no file access; fuzzed): numbers are JSON
// numbers. ParseTokenStore also reads stores written before, which held
// every number as a string ("expires_at": "1796013837").
Secret TokenStoreJson(const TokenStore& store);
// Replaces the store file atomically (see above).
Status WriteTokenStore(const TokenStore& store);

// What the token endpoint said.
struct TokenResponse {
  int http_status = 0;
  std::string body;  // JSON
};
// What a token endpoint's JSON answer means (RFC 6749 §5.1/5.2, RFC 8628
// §3.5). No exception or crash on any bytes (fuzzed).
struct TokenAnswer {
  bool ok = false;              // HTTP 200 with an access_token
  Secret access_token;
  long long expires_in = 0;     // seconds; 0 if absent or nonsense
  Secret refresh_token;         // a rotated (or first) refresh token, or empty
  std::string error;            // "invalid_grant", "authorization_pending", ... (printable)
  std::string description;      // error_description (printable, bounded)
  int http_status = 0;
  std::string Said() const;     // "invalid_grant: Token has been ..." or "HTTP 502"
};
TokenAnswer ParseTokenAnswer(const TokenResponse& response);

// A device authorization endpoint's answer (RFC 8628 §3.2). ok: HTTP 200
// with a device code, a user code and where to enter it. Google says
// verification_url for verification_uri. interval and expires_in are
// clamped to sane bounds (1..60 s, 30..3600 s). Fuzzed too.
struct DeviceAuthorization {
  bool ok = false;
  Secret device_code;
  std::string user_code;         // printable, bounded
  std::string verification_uri;  // printable, bounded
  long interval = 5;
  long expires_in = 900;
};
DeviceAuthorization ParseDeviceAuthorization(const TokenResponse& response);

// POSTs an application/x-www-form-urlencoded body to url; the fields
// contain secrets and are wiped by the caller. Failure: no answer at all.
using TokenHttpPost = std::function<Result<TokenResponse>(const std::string& url, const Secret& form)>;

struct TokenPolicy {
  long early_refresh_seconds = 300;  // refresh when less than this is left
  long lock_wait_seconds = 60;       // how long to wait for another refresher
  // The server refused this access token although the clock says it is
  // valid (revoked, or cut short): get another, unless the store already
  // holds a different one (another delivery got there first).
  const Secret* refused_token = nullptr;
};

// A usable access token for the store at path: the cached one, or one
// refreshed (at most once across all concurrent callers). *refreshed tells
// whether this call sent the request.
Result<Secret> GetAccessToken(const std::string& path, const TokenPolicy& policy, const TokenHttpPost& post,
                              bool* refreshed = nullptr, std::time_t now = std::time(nullptr));

// One request to the store's token endpoint with its grant (refresh_token,
// client_credentials with a secret or a certificate assertion, or the JWT
// bearer grant signed with the service account key); on success the store holds the new access token
// (and a rotated refresh token). Does not write the file.
Status RefreshTokenStore(TokenStore& store, const TokenHttpPost& post, std::time_t now);

// application/x-www-form-urlencoded (RFC 6749 appendix B), also used for
// the query of an authorization URL.
std::string FormEncode(const std::string& s);
// Appends "name=value" (form-encoded, '&' first unless form is empty)
// straight into a Secret: a form carrying a client secret, refresh token or
// code never passes through a plain string (docs/DESIGN.md §8.2).
void FormAppend(Secret& form, std::string_view name, std::string_view value);
void AppendFormEncoded(std::string& out, std::string_view s);
// text with every piece (12 characters or more) of the secrets we sent
// replaced by "[what we sent]": a token endpoint's error may echo our
// request, and its error is logged and shown.
std::string WithoutEchoes(const std::string& text, const std::vector<Secret>& sent);
// Its inverse ('+' is a space, %XX a byte); bad escapes are kept as is.
std::string FormDecode(const std::string& s);

// The fix to suggest for a provider's refusal (invalid_grant, AADSTS...).
std::string OAuthRemedy(const std::string& error, const std::string& description);
// The same, knowing which kind of store was refused (a service account's or
// a certificate's refusal is about its key, not a refresh token).
std::string OAuthRemedy(const TokenStore& store, const std::string& error, const std::string& description);

}  // namespace authrelay
