#include "core/base64.h"

#include <resolv.h>

#include <cstdint>

#include "core/secret.h"

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
  // Strict: the alphabet, then at most two '=' at the end. Decoded here
  // rather than by b64_pton, which looks each character up with strchr (a
  // TLS session in the cache is 2-3 KB of base64: 100,000 instructions
  // there, 15,000 here).
  std::size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in[in.size() - 2] == '=') ++pad;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  std::uint32_t bits = 0;
  int held = 0;  // bits held, 0..18
  for (std::size_t i = 0; i < in.size() - pad; ++i) {
    int v = value(in[i]);
    if (v < 0) {
      WipeString(out);
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out.push_back(static_cast<char>((bits >> held) & 0xff));
    }
  }
  // The bits of a padded group's last character past its bytes are zero in
  // canonical base64 (RFC 4648 §3.5); b64_pton refused the others too.
  if ((bits & ((1u << held) - 1)) != 0) {
    WipeString(out);
    return std::nullopt;
  }
  return out;
}

}  // namespace authrelay
