// SHA-256 and HMAC-SHA-256 (RFC 2104), and hex, for the digests the
// delivery path itself needs: the keyed name of a shared session, a
// secret's fingerprint in -v output, the SES SMTP password derivation.
//
// Through Nettle, not OpenSSL: a delivery that reuses a held session must
// not load libcrypto (its relocation alone costs several times the rest of
// such a delivery), and Nettle is the light Debian library that has both
// SHA-256 and HMAC (libnettle8, already on every system with GnuTLS; about
// 500 relocations against libcrypto's thousands). Our own implementation
// would save even that, but a library with a security team beats code we
// would have to keep correct ourselves.
#pragma once

#include <string>
#include <string_view>

namespace authrelay {

// The raw 32-byte digests.
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
// Lower-case hex of any bytes.
std::string Hex(std::string_view bytes);

}  // namespace authrelay
