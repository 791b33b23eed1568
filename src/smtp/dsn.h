// DSN (RFC 3461) parameters a pipe(8) transport can carry: ORCPT only.
//
// pipe(8) hands a command the original recipient of each recipient
// (${original_recipient}), but no NOTIFY, RET or ENVID (ENVID only from
// Postfix 3.9, as ${envid}). So authrelay sends ORCPT=rfc822;<xtext> with
// each RCPT TO when the server offers DSN, and nothing else of DSN; the
// server then applies its defaults (NOTIFY=FAILURE for most, RET=FULL),
// while Postfix itself still reports delays and failures before the hand-
// off, and "relayed" for a DSN-capable next hop is the server's to send.
#pragma once

#include <string>
#include <string_view>

#include "smtp/session.h"

namespace authrelay {

// RFC 3461 §4: printable ASCII except '+' and '=' as is, everything else
// as "+HH" (upper-case hex).
std::string XtextEncode(std::string_view text);

// The longest ORCPT value ("rfc822;" and the xtext) RFC 3461 allows.
inline constexpr std::size_t kMaxOrcptValue = 500;

// " ORCPT=rfc822;<xtext>" when the server offers DSN and the original
// recipient is known, printable US-ASCII and short enough, else "".
std::string OrcptParameter(bool server_offers_dsn, std::string_view original_recipient);

// The same for the recipient at index i of env.recipients (the original
// recipients pair with the recipients by position).
std::string OrcptAt(bool server_offers_dsn, const Envelope& env, std::size_t i);

}  // namespace authrelay
