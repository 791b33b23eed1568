// Base64 for SASL exchanges (RFC 4954), via libresolv (see core/digest.h: no
// libcrypto on the path of a delivery over a held session).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace authrelay {

std::string Base64Encode(std::string_view in);

// nullopt if the text is not valid base64.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace authrelay
