// SHA-256 and HMAC-SHA-256 (RFC 2104), and hex, for the digests the
// delivery path itself needs: the keyed name of a shared session, a
// secret's fingerprint in -v output, the SES SMTP password derivation.
//
// SHA-256 comes from libmd (libmd0), not OpenSSL: a delivery that reuses a
// held session must not load libcrypto, whose symbol relocation alone cost
// several times the rest of such a delivery. libmd is the lightest Debian
// library with SHA-256 (47 KB, under 70 symbol relocations; it is already
// on every system, libbsd0 needs it); Nettle would also give HMAC but costs
// some 550 eagerly bound relocations, a quarter of a reusing delivery's
// remaining start-up. libmd has no HMAC, so the RFC 2104 construction (a
// dozen lines over the hash) is ours, checked against OpenSSL at every
// length in tests/unit/share_test.cc.
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
