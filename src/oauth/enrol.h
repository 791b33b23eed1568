// Enrolling an OAuth account: the one-time step that gets the first refresh
// token (or, for app-only sending, proves the client secret works) and
// writes the token store a credentials map value then names.
//
//   device     RFC 8628 device authorization (Microsoft 365's default): we
//              print a URL and a short code, the admin signs in anywhere,
//              we poll the token endpoint until the provider says yes.
//   code       authorization code with PKCE and a loopback redirect
//              (Google's; its device flow refuses the Gmail scope): we print
//              a URL, the admin signs in, the browser is sent to
//              http://localhost/?code=..., which does not load; the admin
//              pastes that address (or just the code) back.
//   client-credentials  Microsoft 365 app-only: no user, a client secret
//              or (Microsoft's advice) a certificate and its private key;
//              one token is fetched to prove the registration.
//   service-account  Google Workspace: a service account with domain-wide
//              delegation signs a JWT for the mailbox (--subject) with its
//              JSON key file; one token is fetched to prove the delegation.
//
// Nothing here prints a token or secret.
#pragma once

#include <ctime>
#include <functional>
#include <iosfwd>
#include <string>

#include "core/result.h"
#include "core/secret.h"
#include "oauth/token_store.h"

namespace authrelay {

struct EnrolRequest {
  std::string store_path;
  std::string provider;  // "google", "microsoft", or "" (then every endpoint is given)
  std::string flow;      // "device", "code", "client-credentials"; "" = the provider's usual one
  std::string client_id;
  Secret client_secret;  // read from --client-secret-file, never argv
  std::string tenant;    // Microsoft: a tenant ID or domain; "common" by default
  std::string scope;
  std::string authorize_endpoint;
  std::string token_endpoint;
  std::string device_endpoint;
  std::string redirect_uri;
  std::string key_file;     // service-account: Google's JSON key file
  std::string subject;      // service-account: the mailbox
  std::string certificate;  // client-credentials: the registered certificate (PEM)
  std::string private_key;  // client-credentials: its private key (PEM file, 0600)
};

// The request with the provider's endpoints, scope and flow filled in where
// not given. Failure (4.3.5) names what is missing or malformed.
Result<EnrolRequest> CompleteEnrolRequest(EnrolRequest request);

// How enrolment talks to the admin and waits; tests replace all three.
struct EnrolIo {
  std::istream& in;
  std::ostream& out;
  std::function<void(long seconds)> sleep;
  std::function<std::time_t()> now;
};

// Runs the flow and returns the store to write (WriteTokenStore); the path
// is request.store_path. Failure: the provider's words and the fix.
Result<TokenStore> Enrol(const EnrolRequest& request, const TokenHttpPost& post, EnrolIo io);

// PKCE (RFC 7636 §4.2): BASE64URL(SHA256(verifier)), no padding.
std::string PkceChallenge(const std::string& verifier);
// The authorization code from what the admin pasted: the whole redirected
// address ("http://localhost/?state=..&code=4%2F0A..") or the bare code. If
// the address carries a state it must be ours; an error= is reported.
Result<std::string> CodeFromPasted(const std::string& pasted, const std::string& expected_state);

}  // namespace authrelay
