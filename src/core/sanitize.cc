#include "core/sanitize.h"

#include <cstdio>

#include "core/digest.h"

namespace authrelay {

std::string Printable(std::string_view text, std::size_t max_len) {
  std::string out;
  out.reserve(std::min(text.size(), max_len) + 3);
  for (unsigned char c : text) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return out;
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  const char* blanks = " \t\r\n";
  auto begin = text.find_first_not_of(blanks);
  if (begin == std::string_view::npos) return {};
  auto end = text.find_last_not_of(blanks);
  return text.substr(begin, end - begin + 1);
}

std::string SecretFingerprint(std::string_view secret) {
  return "len=" + std::to_string(secret.size()) + " sha256:" + Hex(Sha256(secret).substr(0, 4));
}

}  // namespace authrelay
