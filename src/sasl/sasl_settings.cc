// smtp_sasl_mechanism_filter and the smtp_sasl_security_options words,
// apart from sasl_client.cc: the SMTP session uses both on every path, and
// a delivery over a held session must not link (and so load) Cyrus SASL
// for them. Only Cyrus's flag constants are used here.
#include <sasl/sasl.h>

#include <cctype>
#include <string_view>

#include "core/list.h"
#include "core/sanitize.h"
#include "sasl/sasl_client.h"

namespace authrelay {

Result<unsigned> ParseSaslSecurityOptions(const std::string& parameter, const std::string& value) {
  unsigned flags = 0;
  for (const std::string& word : SplitList(value)) {
    std::string w = Lowercase(word);
    if (w == "noplaintext") flags |= SASL_SEC_NOPLAINTEXT;
    else if (w == "noactive") flags |= SASL_SEC_NOACTIVE;
    else if (w == "nodictionary") flags |= SASL_SEC_NODICTIONARY;
    else if (w == "noanonymous") flags |= SASL_SEC_NOANONYMOUS;
    else if (w == "mutual_auth") flags |= SASL_SEC_MUTUAL_AUTH;
    else if (w == "forward_secrecy") flags |= SASL_SEC_FORWARD_SECRECY;
    else {
      std::string what = parameter + ": unknown SASL security option \"" + Printable(word, 40) +
                         "\" (use noplaintext, noactive, nodictionary, noanonymous, mutual_auth)";
      return ConfigFailure(what);
    }
  }
  return flags;
}

std::vector<std::string> FilterMechanisms(const std::vector<std::string>& offered, const std::string& filter,
                                          std::vector<std::string>* dropped) {
  std::vector<std::string> words = SplitList(filter);
  if (words.empty()) return offered;
  auto upper = [](std::string_view s) {
    std::string u;
    for (char c : s) u.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return u;
  };
  // A Postfix string list: the first pattern that matches decides ("!"
  // excludes); a mechanism that no pattern matches is excluded, so a list
  // of negations alone allows nothing.
  std::vector<std::string> kept;
  for (const auto& m : offered) {
    bool allowed = false;
    for (const auto& w : words) {
      bool negated = !w.empty() && w[0] == '!';
      std::string_view pattern = std::string_view(w).substr(negated ? 1 : 0);
      if (pattern == kAnyMechanism || upper(pattern) == upper(m)) {
        allowed = !negated;
        break;
      }
    }
    if (allowed) kept.push_back(m);
    else if (dropped) dropped->push_back(m + ": excluded by smtp_sasl_mechanism_filter");
  }
  return kept;
}

}  // namespace authrelay
