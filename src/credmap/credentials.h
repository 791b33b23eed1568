// SASL credentials for one delivery, found in smtp_sasl_password_maps in
// exactly smtp(8)'s order (smtp_sasl_glue.c, POSTFIX-FACTS §2.1):
//   with smtp_sender_dependent_authentication = yes and a non-empty sender:
//     the sender address, the address without its extension
//     (recipient_delimiter), then @domain;
//   then the server host name (no brackets, no port);
//   then the next hop verbatim ("[smtp.gmail.com]:587").
// Each key is asked of every table in order before the next key.
// The value is "username:password", split at the first colon.
#pragma once

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
Credentials SplitCredentialValue(Secret value);

}  // namespace authrelay
