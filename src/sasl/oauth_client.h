// XOAUTH2 (Google, Microsoft 365) and OAUTHBEARER (RFC 7628), built in:
// Cyrus SASL has no client plugin for either. Used when the credentials
// name an OAuth token store (made by delivery/sasl_factory.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/secret.h"
#include "sasl/sasl_client.h"

namespace authrelay {

// The client speaks OAUTHBEARER when offered, else XOAUTH2. When the server
// refuses the token it first sends an error challenge (base64 JSON); the
// client answers as each protocol says (XOAUTH2: an empty line, RFC 7628:
// %x01) and keeps what the server said in last_error().
class OAuthSaslClient final : public SaslClient {
 public:
  // token_just_issued: the token endpoint handed it out for this very
  // delivery, so a refusal is not cured by asking again.
  OAuthSaslClient(std::string username, Secret access_token, std::string host, std::uint16_t port,
                  bool token_just_issued = false)
      : username_(std::move(username)),
        token_(std::move(access_token)),
        host_(std::move(host)),
        port_(port),
        token_just_issued_(token_just_issued) {}
  Result<SaslStep> Start(const std::vector<std::string>& mechanisms) override;
  Result<Secret> Step(const std::string& challenge) override;
  bool MayRenewCredentials() const override { return !token_just_issued_; }
  // The server's error challenge, printable ("" if none came).
  const std::string& last_error() const { return last_error_; }

 private:
  std::string username_;
  Secret token_;
  std::string host_;
  std::uint16_t port_;
  bool token_just_issued_;
  std::string mechanism_;
  std::string last_error_;
};

}  // namespace authrelay
