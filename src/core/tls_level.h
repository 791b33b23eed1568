// The TLS security levels (smtp_tls_security_level): vocabulary shared by
// the session, which only asks "required?", and the tls layer, which
// implements them. No OpenSSL type appears here. docs/DESIGN.md §4.
#pragma once

#include <optional>
#include <string_view>

namespace authrelay {

enum class TlsLevel { kNone, kMay, kEncrypt, kFingerprint, kVerify, kSecure };

std::optional<TlsLevel> ParseTlsLevel(std::string_view name);
const char* TlsLevelName(TlsLevel level);
inline bool TlsRequired(TlsLevel l) { return l >= TlsLevel::kEncrypt; }
inline bool TlsVerifies(TlsLevel l) { return l >= TlsLevel::kFingerprint; }

}  // namespace authrelay
