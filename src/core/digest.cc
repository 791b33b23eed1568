#include "core/digest.h"

#include <sha2.h>
#include <string.h>

#include <cstdint>

namespace authrelay {

namespace {

constexpr std::size_t kBlock = 64;  // SHA-256's block size, for HMAC's pads

void Update(SHA2_CTX& ctx, std::string_view data) {
  SHA256Update(&ctx, reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
}

std::string Final(SHA2_CTX& ctx) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256Final(reinterpret_cast<std::uint8_t*>(out.data()), &ctx);
  explicit_bzero(&ctx, sizeof ctx);
  return out;
}

}  // namespace

std::string Sha256(std::string_view data) {
  SHA2_CTX ctx;
  SHA256Init(&ctx);
  Update(ctx, data);
  return Final(ctx);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  // RFC 2104: H((K ^ opad) || H((K ^ ipad) || data)), K padded with zeros to
  // the block size after hashing a key longer than a block.
  unsigned char k[kBlock] = {};
  if (key.size() > kBlock) {
    std::string hashed = Sha256(key);
    memcpy(k, hashed.data(), hashed.size());
    explicit_bzero(hashed.data(), hashed.size());
  } else {
    memcpy(k, key.data(), key.size());
  }
  unsigned char pad[kBlock];
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(k[i] ^ 0x36);
  SHA2_CTX ctx;
  SHA256Init(&ctx);
  SHA256Update(&ctx, pad, kBlock);
  Update(ctx, data);
  std::string inner = Final(ctx);
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(k[i] ^ 0x5c);
  SHA256Init(&ctx);
  SHA256Update(&ctx, pad, kBlock);
  Update(ctx, inner);
  std::string out = Final(ctx);
  explicit_bzero(k, sizeof k);
  explicit_bzero(pad, sizeof pad);
  explicit_bzero(inner.data(), inner.size());
  return out;
}

std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace authrelay
