#include "credmap/credentials.h"

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
  } else {
    c.username = v.substr(0, colon);
    static constexpr std::string_view kOAuth = "oauth2:/";
    if (v.compare(colon + 1, kOAuth.size(), kOAuth) == 0) {
      c.oauth_store = v.substr(colon + 1 + kOAuth.size() - 1);
    } else {
      c.password = Secret(v.substr(colon + 1));
    }
  }
  return c;
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
