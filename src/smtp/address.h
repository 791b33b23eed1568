// Envelope addresses as they go on the wire: checked and quoted the way
// Postfix's smtp(8) quotes them (its smtp_quote_821_address), so that no
// address can add ESMTP parameters to MAIL FROM or RCPT TO, break out of
// the <...>, or go out unquoted when its local part needs quoting.
#pragma once

#include <string>
#include <string_view>

namespace authrelay {

struct EnvelopePath {
  std::string path;     // what goes between '<' and '>'
  std::string problem;  // why the address cannot be sent; "" when it can
  bool ok() const { return problem.empty(); }
};

// The address as Postfix hands it to a pipe command (internal form, or
// already quoted when the entry uses flags=q), made into an RFC 5321 path:
//  - one pair of surrounding <> is dropped ("<a@b>" is a@b, "<>" is the
//    null sender);
//  - a local part (everything before the last '@') that is not an RFC 5321
//    dot-string is sent as a quoted-string with '"' and '\' escaped, exactly
//    as smtp(8) does; one that already is a valid quoted-string is kept as
//    it is (not quoted twice);
//  - refused: control characters, a path over 254 octets (RFC 5321 allows
//    256 with the brackets), a domain that is not a domain name or address
//    literal, and an empty address where null_allowed is false.
EnvelopePath MakeEnvelopePath(std::string_view address, bool null_allowed);

// smtp(8)'s quoting of the local part alone (no checks).
std::string QuoteLocalPart(std::string_view address);

// True when text is an RFC 5321 Mailbox (Local-part "@" Domain, or a bare
// Local-part as Postfix sends "postmaster"), with UTF-8 allowed as RFC 6531
// does; "" is the null path. The grammar every path we send must match.
bool IsRfc5321Path(std::string_view text);

}  // namespace authrelay
