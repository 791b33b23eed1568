// Helpers that make untrusted text safe to log or quote in a bounce.
#pragma once

#include <string>
#include <string_view>

namespace authrelay {

// Replaces every byte outside printable ASCII with '?' and cuts the result at
// max_len bytes (adding "..."), as Postfix's printable() does for replies.
std::string Printable(std::string_view text, std::size_t max_len = 512);

// ASCII lowercase (Postfix's lowercase(), used for map keys).
std::string Lowercase(std::string_view text);

// Strips leading and trailing blanks (space, tab, CR, LF).
std::string_view Trim(std::string_view text);

// A short, non-reversible fingerprint of a secret so two configurations can
// be compared in logs: "len=N sha256:xxxxxxxx".
std::string SecretFingerprint(std::string_view secret);

}  // namespace authrelay
