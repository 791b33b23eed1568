#include "smtp/dsn.h"

namespace authrelay {

std::string XtextEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c >= '!' && c <= '~' && c != '+' && c != '=') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('+');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string OrcptParameter(bool server_offers_dsn, std::string_view original_recipient) {
  if (!server_offers_dsn || original_recipient.empty()) return "";
  return " ORCPT=rfc822;" + XtextEncode(original_recipient);
}

std::string OrcptFor(bool server_offers_dsn, const Envelope& env, const std::string& rcpt) {
  if (!server_offers_dsn || env.recipients.empty()) return "";
  const std::string* first = env.recipients.data();
  if (&rcpt < first || &rcpt >= first + env.recipients.size()) return "";
  const auto index = static_cast<std::size_t>(&rcpt - first);
  if (index >= env.original_recipients.size()) return "";
  return OrcptParameter(true, env.original_recipients[index]);
}

}  // namespace authrelay
