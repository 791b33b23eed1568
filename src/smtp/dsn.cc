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

std::string OrcptAt(bool server_offers_dsn, const Envelope& env, std::size_t i) {
  if (!server_offers_dsn || i >= env.recipients.size() || i >= env.original_recipients.size()) return "";
  return OrcptParameter(true, env.original_recipients[i]);
}

}  // namespace authrelay
