// SASL credentials for one delivery, found in smtp_sasl_password_maps in
// exactly smtp(8)'s order (Postfix's smtp_sasl_glue.c; docs/DESIGN.md §5.2):
//   with smtp_sender_dependent_authentication = yes and a non-empty sender:
//     the sender address, the address without its extension
//     (recipient_delimiter), then @domain;
//   then the server host name (no brackets, no port);
//   then the next hop verbatim ("[smtp.gmail.com]:587").
// Each key is asked of every table in order before the next key.
// The value is "username:password", split at the first colon.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret.h"
#include "credmap/map.h"

namespace authrelay {

struct Credentials {
  std::string username;
  Secret password;
  // Set when the value is "user:oauth2:/absolute/path": an OAuth 2.0 token
  // store (oauth/token_store.h) instead of a password. A password that
  // really begins with "oauth2:/" cannot be used (that is the whole cost
  // of this syntax; every other user:password means what it always did).
  std::string oauth_store;
  // Set when the value is "user:file:/absolute/path": the password is the
  // first line of that file (without its line end), read at each delivery,
  // so a container secret or a file from configuration management need not
  // sit in the map.
  std::string password_file;
  // Set when the value is "ACCESS_KEY_ID:ses-key:REGION:/absolute/path": the
  // file holds an IAM secret access key, and the Amazon SES SMTP password is
  // derived from it for REGION (SesSmtpPassword); the username is the key ID.
  // password_file is then the key file. ses_key is set for every password
  // that begins "ses-key:", well formed or not: a malformed one (no region,
  // no path, a relative path) defers; it is never sent as a password.
  std::string ses_region;
  bool ses_key = false;
  // The password is to be read from a file (and maybe derived), not the map's.
  bool PasswordOutsideMap() const { return ses_key || !password_file.empty(); }
  std::string matched_key;  // which lookup key found it
  std::string table;        // which table answered
};

struct CredentialQuery {
  std::string sender;             // "" = null sender
  std::string host;               // server host name, no brackets/port
  std::string nexthop;            // verbatim next-hop element
  bool sender_dependent = false;  // smtp_sender_dependent_authentication
  std::string recipient_delimiter;
};

// The lookup keys in order, without duplicates of adjacent equal keys.
std::vector<std::string> CredentialKeys(const CredentialQuery& q);

// One line per key tried, for --lookup and -v: "key: not found" or
// "key: found in TABLE".
using LookupTrace = std::vector<std::string>;

Result<std::optional<Credentials>> FindCredentials(TableList& tables, const CredentialQuery& q,
                                                   LookupTrace* trace = nullptr);

// "user:pass" -> (user, pass). No colon: empty password (as Postfix).
// "user:oauth2:/p", "user:file:/p" and "user:ses-key:REGION:/p" name where
// the secret lives instead (see above). A password that really begins with
// "oauth2:/", "file:/" or "ses-key:" cannot be written in the map: put it in
// a file and use user:file:/path.
Credentials SplitCredentialValue(Secret value);

// The password to send: the map's, or read from password_file (and, for
// SES, derived) now. owner: who the file must belong to (the user running
// the delivery). Failure 4.3.5 naming the file, what is wrong and the fix;
// the caller defers and never sends mail without AUTH instead.
Result<Secret> ResolvePassword(const Credentials& c, uid_t owner);

// Where the password comes from, for -v, --lookup and --check (never the
// password): "map", "file /p", "SES key file /p (region eu-west-1)".
std::string PasswordSource(const Credentials& c);

// Amazon SES SMTP password from an IAM secret access key, as AWS documents
// it: SigV4 signing key for date "11111111", REGION, service "ses",
// "aws4_request", then HMAC-SHA256 of "SendRawEmail"; version byte 0x04
// prefixed; base64.
Secret SesSmtpPassword(const Secret& secret_access_key, const std::string& region);

// An AWS region name as SES uses them ("us-east-1", "eu-central-2").
bool ValidAwsRegion(const std::string& region);

}  // namespace authrelay
