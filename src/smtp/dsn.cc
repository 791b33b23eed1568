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
  // An rfc822 original recipient is printable US-ASCII before encoding, and
  // the parameter's value is at most 500 characters (RFC 3461, 4.2). ORCPT
  // is optional: one we could only send malformed (a control byte, 8-bit
  // text, or so long that the RCPT line may be refused as too long, which
  // would bounce the recipient) is left out.
  for (unsigned char c : original_recipient) {
    if (c < 0x20 || c > 0x7E) return "";
  }
  std::string value = "rfc822;" + XtextEncode(original_recipient);
  if (value.size() > kMaxOrcptValue) return "";
  return " ORCPT=" + value;
}

std::string OrcptAt(bool server_offers_dsn, const Envelope& env, std::size_t i) {
  if (!server_offers_dsn || i >= env.recipients.size() || i >= env.original_recipients.size()) return "";
  return OrcptParameter(true, env.original_recipients[i]);
}

}  // namespace authrelay
