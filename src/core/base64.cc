#include "core/base64.h"

#include <nettle/base64.h>

namespace authrelay {

std::string Base64Encode(std::string_view in) {
  std::string out(BASE64_ENCODE_RAW_LENGTH(in.size()), '\0');
  base64_encode_raw(out.data(), in.size(), reinterpret_cast<const std::uint8_t*>(in.data()));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  while (!in.empty() && (in.back() == ' ' || in.back() == '\r')) in.remove_suffix(1);
  if (in.size() % 4 != 0) return std::nullopt;
  if (in.empty()) return std::string();
  // Strict: the alphabet, then at most two '=' at the end. (Nettle alone
  // would skip blanks inside the text.)
  std::size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in[in.size() - 2] == '=') ++pad;
  for (std::size_t i = 0; i < in.size() - pad; ++i) {
    char c = in[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  base64_decode_ctx ctx;
  base64_decode_init(&ctx);
  std::string out(BASE64_DECODE_LENGTH(in.size()), '\0');
  std::size_t n = out.size();
  if (!base64_decode_update(&ctx, &n, reinterpret_cast<std::uint8_t*>(out.data()), in.size(), in.data()) ||
      !base64_decode_final(&ctx)) {
    return std::nullopt;
  }
  out.resize(n);
  return out;
}

}  // namespace authrelay
