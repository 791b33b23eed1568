#include "smtp/address.h"

#include <algorithm>

namespace authrelay {
namespace {

bool Control(unsigned char c) { return c < 0x20 || c == 0x7f; }
bool EightBit(unsigned char c) { return c >= 0x80; }

// RFC 5321 atext, plus 8-bit bytes (RFC 6531 UTF-8, and what Postfix's
// 8-bit-clean quoting lets through).
bool Atext(unsigned char c) {
  if (EightBit(c)) return true;
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

// The characters smtp(8) accepts in a dot-string without quoting: anything
// but controls, space and the specials ()<>[]\,;:@" (8-bit allowed).
bool DotStringChar(unsigned char c) {
  if (Control(c) || c == ' ') return false;
  return std::string_view("<>()[]\\,;:@\"").find(static_cast<char>(c)) == std::string_view::npos;
}

bool IsDotString(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  if (local.find("..") != std::string_view::npos) return false;
  return std::all_of(local.begin(), local.end(), [](char c) { return DotStringChar(static_cast<unsigned char>(c)); });
}

// RFC 5321 Dot-string in the strict grammar (atext only).
bool IsStrictDotString(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  if (local.find("..") != std::string_view::npos) return false;
  return std::all_of(local.begin(), local.end(),
                     [](char c) { return c == '.' || Atext(static_cast<unsigned char>(c)); });
}

// RFC 5321 Quoted-string: DQUOTE *(qtextSMTP / "\" %d32-126) DQUOTE, 8-bit allowed.
bool IsQuotedString(std::string_view local) {
  if (local.size() < 2 || local.front() != '"' || local.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < local.size(); ++i) {
    auto c = static_cast<unsigned char>(local[i]);
    if (c == '\\') {
      if (i + 2 >= local.size()) return false;  // the escape would eat the closing quote
      auto n = static_cast<unsigned char>(local[++i]);
      if (Control(n)) return false;
      continue;
    }
    if (c == '"' || Control(c)) return false;
  }
  return true;
}

// RFC 5321 Domain (sub-domains of letters, digits and inner hyphens; U-labels
// allowed as 8-bit) or address-literal ("[" printable-without-[]\ "]").
bool IsDomain(std::string_view d) {
  if (d.empty()) return false;
  if (d.front() == '[') {
    if (d.size() < 3 || d.back() != ']') return false;
    std::string_view inner = d.substr(1, d.size() - 2);
    return std::all_of(inner.begin(), inner.end(), [](char ch) {
      auto c = static_cast<unsigned char>(ch);
      return c > 32 && c < 127 && c != '[' && c != ']' && c != '\\';
    });
  }
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char ch : label) {
      auto c = static_cast<unsigned char>(ch);
      bool ok = EightBit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_';  // '_' as Postfix accepts in host names
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

std::string QuoteLocalPart(std::string_view address) {
  std::size_t at = address.rfind('@');
  std::string_view local = address.substr(0, at);
  std::string_view rest = at == std::string_view::npos ? std::string_view() : address.substr(at);
  if (IsDotString(local)) return std::string(address);
  std::string out = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\' || c == '\r' || c == '\n') out += '\\';
    out += c;
  }
  out += '"';
  out.append(rest);
  return out;
}

bool IsRfc5321Path(std::string_view text) {
  if (text.empty()) return true;
  if (text.size() > 254) return false;
  std::size_t at = text.rfind('@');
  std::string_view local = text.substr(0, at);
  if (!IsStrictDotString(local) && !IsQuotedString(local)) return false;
  return at == std::string_view::npos || IsDomain(text.substr(at + 1));
}

EnvelopePath MakeEnvelopePath(std::string_view address, bool null_allowed) {
  EnvelopePath out;
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  if (std::any_of(address.begin(), address.end(), [](char c) { return Control(static_cast<unsigned char>(c)); })) {
    out.problem = "control character in address";
    return out;
  }
  if (address.empty()) {
    if (!null_allowed) out.problem = "empty address";
    return out;
  }
  std::size_t at = address.rfind('@');
  if (at != std::string_view::npos && !IsDomain(address.substr(at + 1))) {
    out.problem = "domain is not a host name or address literal";
    return out;
  }
  std::string_view local = address.substr(0, at);
  if (IsQuotedString(local)) {
    out.path = std::string(address);  // quoted already (pipe flags=q): keep it
  } else {
    out.path = QuoteLocalPart(address);
  }
  if (out.path.size() > 254) {
    out.problem = "address longer than 254 octets";
    out.path.clear();
    return out;
  }
  if (!IsRfc5321Path(out.path)) {  // cannot happen by construction; never send what the grammar refuses
    out.problem = "not a valid RFC 5321 address";
    out.path.clear();
  }
  return out;
}

}  // namespace authrelay
