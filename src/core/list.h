// Postfix list values ("a, b c", with {braced items} kept whole): read by
// main.cf settings, map specs, TLS protocol and cipher lists and SASL
// options alike, so the splitting lives below all of them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace authrelay {

// Splits a Postfix list value at commas and whitespace, dropping empties.
std::vector<std::string> SplitList(std::string_view value);

}  // namespace authrelay
