#include "delivery/remedy.h"

#include <array>
#include <string>
#include <string_view>

namespace authrelay {
namespace {

// A provider reply we know: matched on the server's reply (its enhanced
// status code, the reply code where the status alone is too common, and in
// one case the first words Gmail sends), never on our own sentence around
// it. The codes and their meaning come from Google's and Microsoft's
// published SMTP error references.
struct Known {
  std::string_view dsn;
  int code;                  // 0: any reply code
  std::string_view starts;   // "" or the reply text after "CODE[- ]DSN "
  std::string_view fix;
};

constexpr std::array<Known, 10> kProviderReplies = {{
    {"5.7.9", 0, "", "Gmail wants an app password (or OAuth2) for this account: create a 16-character app password "
                     "(needs 2-Step Verification), put it in smtp_sasl_password_maps and run postmap"},
    {"5.7.8", 0, "Username and Password not accepted",
     "Gmail rejected the login: the username must be the full address and the password an app password, not the "
     "account password"},
    {"4.7.0", 454, "", "the provider is throttling logins (too many failed attempts or connections): check the password, "
                       "then wait; Postfix retries on its own"},
    {"5.4.5", 0, "", "the provider's daily sending limit is reached: the mail stays queued and goes out when the limit "
                     "resets (about 24 hours)"},
    {"5.7.139", 0, "", "Microsoft 365 has SMTP AUTH switched off for this mailbox or tenant: enable Authenticated SMTP for "
                       "the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false), turn off Security defaults, "
                       "or use OAuth2"},
    {"5.7.3", 0, "", "Microsoft 365 did not accept the login: check the username (the full address) and password; accounts "
                     "with MFA need an app password or OAuth2"},
    {"5.7.30", 0, "", "Microsoft 365 no longer accepts basic authentication for client submission: use OAuth2 (XOAUTH2)"},
    {"4.3.2", 432, "", "Microsoft 365 allows 3 concurrent connections per mailbox: set "
                       "authrelay_destination_concurrency_limit = 2 in main.cf"},
    {"5.2.252", 0, "", "Microsoft 365 refused the sender (SendAsDenied): the envelope sender must be the authenticated "
                       "mailbox or an address it may send as (sender_canonical_maps can rewrite it)"},
    {"5.5.127", 0, "", "Microsoft 365 wants an access token with at least 10 minutes left: refresh tokens earlier"},
}};

// True if the reply's first line, after "CODE-DSN " or "CODE DSN ", starts
// with words. This reads the server's own words as it sent them (kept in
// ServerReply), never a message of ours: a provider that rewords its reply
// only loses the hint.
bool ReplyStartsWith(const ServerReply& r, std::string_view words) {
  std::string_view t = r.text;
  std::size_t skip = std::to_string(r.code).size() + 1 + r.dsn.size() + 1;
  return t.size() >= skip && t.substr(skip, words.size()) == words;
}

const Known* ProviderReply(const ServerReply& r) {
  if (r.code == 0) return nullptr;
  for (const Known& k : kProviderReplies) {
    if (r.dsn == k.dsn && (k.code == 0 || r.code == k.code) && (k.starts.empty() || ReplyStartsWith(r, k.starts))) {
      return &k;
    }
  }
  return nullptr;
}

}  // namespace

std::string RemedyFor(const Failure& failure, int port) {
  if (const Known* k = ProviderReply(failure.server_reply())) return std::string(k->fix);
  switch (failure.cause()) {
    case Cause::kAuthRejected:
      if (failure.server_reply().code != 535) return {};
      return "the server rejected the username or password: check the entry with authrelay --lookup NEXTHOP, fix it "
             "in the map and run postmap";
    case Cause::kNoSaslMechanism:
      return "no AUTH mechanism is both offered and allowed: PLAIN and LOGIN need smtp_sasl_tls_security_options "
             "(or smtp_sasl_security_options) without noplaintext, e.g. = noanonymous; check "
             "smtp_sasl_mechanism_filter";
    case Cause::kTlsNotVerified:
      return "the server's certificate did not verify for this name: check the next hop's host name, "
             "smtp_tls_CAfile/smtp_tls_CApath (empty = the system trust store), and the log line before this one";
    case Cause::kNoGreeting:
      if (port == 465) return {};
      return "no greeting: if this port speaks implicit TLS (SMTPS), use port 465 in the next hop or set "
             "smtp_tls_wrappermode = yes";
    case Cause::kTlsHandshake:
      if (port != 465) return {};
      return "TLS handshake failed on port 465: if the server speaks STARTTLS there, use port 587 or set "
             "smtp_tls_wrappermode = no with a port other than 465";
    case Cause::kTlsNotOffered:
      return "the server offers no STARTTLS: use its submission port (587 with STARTTLS, or 465), or set "
             "smtp_tls_security_level for this next hop if you accept sending in the clear";
    case Cause::kTlsTrustUnreadable:
      return "the CA file or directory cannot be read: fix smtp_tls_CAfile / smtp_tls_CApath, or leave both empty "
             "for the system trust store (package ca-certificates)";
    case Cause::kTableUnreadable:
      return "make the map readable by the pipe user: chgrp <its group> MAP MAP.db; chmod 640 MAP MAP.db (pipe(8) "
             "drops supplementary groups); run postmap if the .db is missing";
    case Cause::kConnectRefused:
      return "nothing listens there: check the next hop's host and port (587 for STARTTLS, 465 for implicit TLS)";
    case Cause::kProviderLimit:  // smtp/throttle.h put the fix in the status line already
    case Cause::kServerReply:
    case Cause::kUnclassified:
      return {};
  }
  return {};
}

}  // namespace authrelay
