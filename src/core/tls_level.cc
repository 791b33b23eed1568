#include "core/tls_level.h"

#include <string>

#include "core/sanitize.h"

namespace authrelay {

std::optional<TlsLevel> ParseTlsLevel(std::string_view name) {
  std::string n = Lowercase(Trim(name));
  if (n == "none") return TlsLevel::kNone;
  if (n == "may") return TlsLevel::kMay;
  if (n == "encrypt") return TlsLevel::kEncrypt;
  if (n == "fingerprint") return TlsLevel::kFingerprint;
  if (n == "verify") return TlsLevel::kVerify;
  if (n == "secure") return TlsLevel::kSecure;
  return std::nullopt;
}

const char* TlsLevelName(TlsLevel level) {
  switch (level) {
    case TlsLevel::kNone: return "none";
    case TlsLevel::kMay: return "may";
    case TlsLevel::kEncrypt: return "encrypt";
    case TlsLevel::kFingerprint: return "fingerprint";
    case TlsLevel::kVerify: return "verify";
    case TlsLevel::kSecure: return "secure";
  }
  return "?";
}

}  // namespace authrelay
