#include "delivery/remedy.h"

#include <array>
#include <string_view>

namespace authrelay {
namespace {

struct Known {
  std::string_view reply;  // matched anywhere in the failure text
  std::string_view fix;
};

// Provider replies. Sources: PEERS.md §2-§3 (Google and Microsoft
// documentation and issue threads quoted there).
constexpr std::array<Known, 10> kProviderReplies = {{
    {"5.7.9", "Gmail wants an app password (or OAuth2) for this account: create a 16-character app password "
              "(needs 2-Step Verification), put it in smtp_sasl_password_maps and run postmap"},
    {"5.7.8 Username and Password not accepted",
     "Gmail rejected the login: the username must be the full address and the password an app password, not the "
     "account password"},
    {"454 4.7.0", "the provider is throttling logins (too many failed attempts or connections): check the password, "
                  "then wait; Postfix retries on its own"},
    {"5.4.5", "the provider's daily sending limit is reached: the mail stays queued and goes out when the limit "
              "resets (about 24 hours)"},
    {"5.7.139", "Microsoft 365 has SMTP AUTH switched off for this mailbox or tenant: enable Authenticated SMTP for "
                "the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false), turn off Security defaults, "
                "or use OAuth2"},
    {"5.7.3 ", "Microsoft 365 did not accept the login: check the username (the full address) and password; accounts "
              "with MFA need an app password or OAuth2"},
    {"5.7.30", "Microsoft 365 no longer accepts basic authentication for client submission: use OAuth2 (XOAUTH2)"},
    {"432 4.3.2", "Microsoft 365 allows 3 concurrent connections per mailbox: set "
                  "authrelay_destination_concurrency_limit = 2 in main.cf"},
    {"5.2.252", "Microsoft 365 refused the sender (SendAsDenied): the envelope sender must be the authenticated "
                "mailbox or an address it may send as (sender_canonical_maps can rewrite it)"},
    {"5.5.127", "Microsoft 365 wants an access token with at least 10 minutes left: refresh tokens earlier"},
}};

bool Has(const std::string& text, std::string_view needle) { return text.find(needle) != std::string::npos; }

}  // namespace

std::string RemedyFor(const Failure& failure, int port) {
  const std::string& t = failure.text();
  const std::string& d = failure.detail();
  for (const Known& k : kProviderReplies) {
    if (Has(t, k.reply)) return std::string(k.fix);
  }
  if (Has(t, "SASL authentication failed") && Has(t, "535")) {
    return "the server rejected the username or password: check the entry with authrelay --lookup NEXTHOP, fix it "
           "in the map and run postmap";
  }
  if (Has(t, "no mechanism available") || Has(t, "no compatible authentication mechanisms")) {
    return "no AUTH mechanism is both offered and allowed: PLAIN and LOGIN need smtp_sasl_tls_security_options "
           "(or smtp_sasl_security_options) without noplaintext, e.g. = noanonymous; check "
           "smtp_sasl_mechanism_filter";
  }
  if (Has(t, "Server certificate not verified")) {
    return "the server's certificate did not verify for this name: check the next hop's host name, "
           "smtp_tls_CAfile/smtp_tls_CApath (empty = the system trust store), and the log line before this one";
  }
  if (Has(t, "timed out while receiving the initial server greeting") && port != 465) {
    return "no greeting: if this port speaks implicit TLS (SMTPS), use port 465 in the next hop or set "
           "smtp_tls_wrappermode = yes";
  }
  if (Has(t, "Cannot start TLS: handshake failure") && port == 465) {
    return "TLS handshake failed on port 465: if the server speaks STARTTLS there, use port 587 or set "
           "smtp_tls_wrappermode = no with a port other than 465";
  }
  if (Has(t, "TLS is required, but was not offered")) {
    return "the server offers no STARTTLS: use its submission port (587 with STARTTLS, or 465), or set "
           "smtp_tls_security_level for this next hop if you accept sending in the clear";
  }
  if (Has(t, "cannot load CA certificates") || Has(d, "cannot load CA certificates") ||
      Has(t, "no trusted CA certificates")) {
    return "the CA file or directory cannot be read: fix smtp_tls_CAfile / smtp_tls_CApath, or leave both empty "
           "for the system trust store (package ca-certificates)";
  }
  if (Has(t, "cannot read lookup table")) {
    return "make the map readable by the pipe user: chgrp <its group> MAP MAP.db; chmod 640 MAP MAP.db (pipe(8) "
           "drops supplementary groups); run postmap if the .db is missing";
  }
  if (Has(t, "Connection refused")) {
    return "nothing listens there: check the next hop's host and port (587 for STARTTLS, 465 for implicit TLS)";
  }
  return {};
}

}  // namespace authrelay
