#include "credmap/credentials.h"

#include <string.h>

#include <cctype>

#include "core/base64.h"
#include "core/digest.h"
#include "core/private_file.h"
#include "core/sanitize.h"

namespace authrelay {

std::vector<std::string> CredentialKeys(const CredentialQuery& q) {
  std::vector<std::string> keys;
  auto add = [&keys](std::string k) {
    if (k.empty()) return;
    for (const auto& existing : keys) {
      if (Lowercase(existing) == Lowercase(k)) return;
    }
    keys.push_back(std::move(k));
  };
  if (q.sender_dependent && !q.sender.empty()) {
    add(q.sender);
    auto at = q.sender.rfind('@');
    std::string local = at == std::string::npos ? q.sender : q.sender.substr(0, at);
    std::string domain = at == std::string::npos ? std::string() : q.sender.substr(at + 1);
    // mail_addr_find(): strip the extension at the first delimiter character.
    if (!q.recipient_delimiter.empty()) {
      auto d = local.find_first_of(q.recipient_delimiter);
      if (d != std::string::npos && d > 0) {
        add(local.substr(0, d) + (at == std::string::npos ? "" : "@" + domain));
      }
    }
    if (!domain.empty()) add("@" + domain);
  }
  add(q.host);
  add(q.nexthop);
  return keys;
}

Credentials SplitCredentialValue(Secret value) {
  Credentials c;
  const std::string& v = value.Reveal();
  auto colon = v.find(':');
  if (colon == std::string::npos) {
    c.username = v;
    return c;
  }
  c.username = v.substr(0, colon);
  std::string_view rest(v);
  rest.remove_prefix(colon + 1);
  static constexpr std::string_view kOAuth = "oauth2:/", kFile = "file:/", kSes = "ses-key:";
  if (rest.starts_with(kOAuth)) {
    c.oauth_store = std::string(rest.substr(kOAuth.size() - 1));
  } else if (rest.starts_with(kFile)) {
    c.password_file = std::string(rest.substr(kFile.size() - 1));
  } else if (rest.starts_with(kSes)) {
    // REGION:/path. Whatever else follows "ses-key:" is a mistake in the
    // map (a forgotten region, a relative path) that ResolvePassword
    // refuses; sent as a password it would only fail AUTH and show the
    // server our paths.
    std::string_view tail = rest.substr(kSes.size());
    auto sep = tail.find(':');
    c.ses_key = true;
    c.ses_region = std::string(tail.substr(0, sep));
    if (sep != std::string_view::npos) c.password_file = std::string(tail.substr(sep + 1));
  } else {
    c.password = Secret(std::string(rest));
  }
  return c;
}

bool ValidAwsRegion(const std::string& region) {
  // two or more dash-separated parts of lower-case letters, ending in a number.
  if (region.empty() || region.size() > 32) return false;
  if (region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) return false;
  auto dash = region.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == region.size()) return false;
  return region.find_first_not_of("0123456789", dash + 1) == std::string::npos && std::islower(region[0]);
}

Secret SesSmtpPassword(const Secret& secret_access_key, const std::string& region) {
  Secret key("AWS4" + secret_access_key.Reveal());
  std::string k = key.Reveal();
  for (const std::string& part : {std::string("11111111"), region, std::string("ses"), std::string("aws4_request"),
                                  std::string("SendRawEmail")}) {
    std::string mac = HmacSha256(k, part);
    explicit_bzero(k.data(), k.size());
    k = std::move(mac);
  }
  std::string versioned = "\x04" + k;
  explicit_bzero(k.data(), k.size());
  Secret password(Base64Encode(versioned));
  explicit_bzero(versioned.data(), versioned.size());
  return password;
}

std::string PasswordSource(const Credentials& c) {
  if (c.ses_key) {
    return "SES key file " + (c.password_file.starts_with('/') ? c.password_file : "?") + " (region " +
           (ValidAwsRegion(c.ses_region) ? c.ses_region : "?") + ")";
  }
  if (!c.password_file.empty()) return "file " + c.password_file;
  return "map";
}

Result<Secret> ResolvePassword(const Credentials& c, uid_t owner) {
  if (!c.PasswordOutsideMap()) return Secret(std::string(c.password.Reveal()));
  const char* what = c.ses_key ? "SES secret key file " : "password file ";
  // Only an absolute path is shown: what follows a malformed "ses-key:" may
  // be a password.
  const std::string named = c.password_file.starts_with('/') ? c.password_file : "(no absolute path given)";
  auto unusable = [&](const std::string& why, std::string fix = {}) {
    return Failure("4.3.5", "SASL password unavailable",
                   std::string(what) + named +
                       (c.matched_key.empty() ? "" : " (credentials for " + Printable(c.matched_key, 200) + ")") +
                       ": " + why)
        .WithFix(std::move(fix));
  };
  // Not echoed: when the value is malformed, the "region" may be a password
  // that happens to begin with "ses-key:".
  if (c.ses_key && !ValidAwsRegion(c.ses_region)) {
    return unusable("ses-key: what precedes the path is not an AWS region (as in email-smtp.REGION.amazonaws.com)",
                    "write the map value as ACCESS_KEY_ID:ses-key:us-east-1:/absolute/path");
  }
  if (!c.password_file.starts_with('/')) {  // only a malformed ses-key: value gets here
    return unusable("ses-key: no absolute path to the key file after the region",
                    "write the map value as ACCESS_KEY_ID:ses-key:us-east-1:/absolute/path");
  }
  Secret content;
  if (Notice why = ReadPrivateFile(c.password_file, owner, 64 * 1024, &content); !why.what.empty()) {
    return unusable(why.what, why.fix);
  }
  const std::string& text = content.Reveal();
  std::size_t end = text.find_first_of("\r\n");
  Secret line(text.substr(0, end));
  if (line.empty()) return unusable("the first line is empty", "write the password on the first line");
  if (!c.ses_key) return line;
  // An IAM secret access key is 40 base64 characters today; whitespace
  // around it is a copy-and-paste accident, not part of the key.
  std::string_view key = Trim(line.Reveal());
  if (key.size() < 16 || key.size() > 128 || key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") !=
                              std::string_view::npos) {
    return unusable("the first line is not an IAM secret access key",
                    "put the key, from the IAM console's access key, alone on the first line");
  }
  return SesSmtpPassword(Secret(std::string(key)), c.ses_region);
}

Result<std::optional<Credentials>> FindCredentials(TableList& tables, const CredentialQuery& q, LookupTrace* trace) {
  std::vector<std::string> keys = CredentialKeys(q);
  auto hit = tables.FindFirst(keys);
  if (!hit.ok()) {
    if (trace) trace->push_back("lookup error: " + hit.failure().text());
    return hit.failure();
  }
  std::size_t found_at = hit.value() ? hit.value()->key_index : keys.size();
  if (trace) {
    for (std::size_t k = 0; k < found_at; ++k) trace->push_back(Printable(keys[k], 200) + ": not found");
  }
  if (!hit.value()) return std::optional<Credentials>();
  Credentials c = SplitCredentialValue(std::move(hit.value()->hit.value));
  c.matched_key = keys[found_at];
  c.table = hit.value()->hit.table;
  if (trace) trace->push_back(Printable(c.matched_key, 200) + ": found in " + c.table);
  return std::optional<Credentials>(std::move(c));
}

}  // namespace authrelay
