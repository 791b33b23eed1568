#include "core/base64.h"

#include <resolv.h>

namespace authrelay {

std::string Base64Encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = b64_ntop(reinterpret_cast<const unsigned char*>(in.data()), in.size(), out.data(), out.size());
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  while (!in.empty() && (in.back() == ' ' || in.back() == '\r')) in.remove_suffix(1);
  if (in.size() % 4 != 0) return std::nullopt;
  if (in.empty()) return std::string();
  // Strict: the alphabet, then at most two '=' at the end (b64_pton alone
  // would skip blanks inside the text).
  std::size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in[in.size() - 2] == '=') ++pad;
  for (std::size_t i = 0; i < in.size() - pad; ++i) {
    char c = in[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  std::string text(in);  // b64_pton reads a C string
  std::string out(in.size() / 4 * 3, '\0');
  int n = b64_pton(text.c_str(), reinterpret_cast<unsigned char*>(out.data()), out.size());
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace authrelay
