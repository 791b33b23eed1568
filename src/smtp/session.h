// One SMTP session with one server: greeting, EHLO, STARTTLS (or implicit
// TLS), AUTH, MAIL, RCPT, DATA with the message streamed from a source,
// QUIT. Sequential and blocking over a Transport; no socket, OpenSSL or
// Cyrus type appears here, so tests drive it over any Transport.
//
// Every failure is classified the way smtp(8) words and codes it
// (docs/DESIGN.md §6.3), and marked try_next when it happened before MAIL
// (another server of the next hop may still take the mail).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/deadline.h"
#include "core/result.h"
#include "core/tls_level.h"
#include "core/transport.h"
#include "sasl/sasl_client.h"
#include "smtp/address.h"
#include "smtp/ehlo.h"
#include "smtp/mime_downgrade.h"
#include "smtp/reply.h"
#include "smtp/secret_scrubber.h"

namespace authrelay {

struct SessionPolicy {
  std::string helo_name = "localhost";
  TlsLevel tls_level = TlsLevel::kMay;
  bool wrappermode = false;        // implicit TLS (port 465)
  bool skip_5xx_greeting = true;   // smtp_skip_5xx_greeting
  long helo_timeout = 300, starttls_timeout = 300, mail_timeout = 300, rcpt_timeout = 300;
  long data_init_timeout = 120, data_xfer_timeout = 180, data_done_timeout = 600, quit_timeout = 300;
  long rset_timeout = 20;  // the RSET that opens a transaction on a held session
  std::size_t line_length_limit = 998;
  std::size_t reply_line_limit = 2048;  // Postfix's line_length_limit for replies
  MimeOptions mime;  // 8-bit -> quoted-printable for a server without 8BITMIME

  std::optional<std::string> sasl_username;  // nullopt: no AUTH; else names the login in logs
  std::string mechanism_filter;              // smtp_sasl_mechanism_filter
  std::string sasl_options_plain = "noplaintext, noanonymous";
  std::string sasl_options_tls = "noplaintext, noanonymous";
  std::string sasl_options_verified = "noplaintext, noanonymous";
  bool auth_soft_bounce = true;              // smtp_sasl_auth_soft_bounce
  bool allow_plaintext_auth = false;         // authrelay_allow_plaintext_auth

  bool dry_run = false;  // stop before DATA: RSET, QUIT
  // Connection sharing (src/share): keep_open leaves the session open after
  // a delivered message (no QUIT); resume runs over a session that a
  // holder keeps, TLS and AUTH done, with these capabilities: RSET, then
  // the transaction.
  bool keep_open = false;
  std::optional<Capabilities> resume;
  // The password, when known: every server line is scrubbed of it from the
  // start. A resumed session never sent AUTH itself (the holder did), so
  // without this its scrubber would know nothing the server could echo.
  const Secret* known_password = nullptr;
  bool trace = false;    // log a redacted transcript
  // Makes the SASL client for the security flags in force. renew: the
  // server refused the previous client's credentials and that client said
  // new ones may help (SaslClient::MayRenewCredentials).
  std::function<Result<std::unique_ptr<SaslClient>>(unsigned flags, bool renew)> sasl_factory;
};

struct Envelope {
  std::string sender;  // "" = null sender
  std::vector<std::string> recipients;
  std::optional<std::uint64_t> size;  // ${size}: SIZE= and the EHLO SIZE check
  // ${original_recipient} of each recipient, in the same order; empty: none.
  std::vector<std::string> original_recipients;
};

class MessageSource {
 public:
  virtual ~MessageSource() = default;
  // Like read(2): bytes read, 0 at end, -1 on error.
  virtual long Read(char* buf, std::size_t len) = 0;
};

// The one result of a delivery attempt, from the session to the report:
// Session::Run fills the first part; the delivery layer adds where and how
// it connected; delivery/report.h turns it into the line Postfix reads.
struct AttemptResult {
  bool delivered = false;         // 2xx to end of data (or dry run passed RCPT)
  std::optional<Failure> failure;
  bool try_next = false;          // failed before MAIL: try another server
  std::string final_reply;        // the server's 2xx to end of data
  std::vector<std::string> offered_mechanisms;  // for --probe
  std::string chosen_mechanism;
  Capabilities capabilities;

  // Filled by the delivery layer.
  std::string relay = "none";     // smtp(8)'s "host[addr]:port" of the last server tried
  int port = 0;                   // the next hop's port (remedies tell 465 from 587)
  std::optional<TlsInfo> tls;     // the TLS result, if a handshake completed
  TlsLevel level = TlsLevel::kMay;
  std::string level_why;          // which setting decided the level
  long conn_use = 0;              // > 1: a held session carried it (smtp(8)'s conn_use=)
};

class Session {
 public:
  // server_name is smtp(8)'s "host[addr]" and port its TCP port; both only
  // label log lines and status texts. All references must outlive Run().
  Session(Transport& transport, std::string server_name, std::uint16_t port, const SessionPolicy& policy);
  AttemptResult Run(const Envelope& envelope, MessageSource& message, Deadline overall);

 private:
  Status Send(const std::string& line, const char* stage, Deadline d, bool secret = false);
  // raw_last_line: the final line as the server sent it, before scrubbing,
  // for the one reader that must see it (the SASL client decoding a
  // challenge); everything else sees only the scrubbed reply.
  Status Receive(Reply& reply, const char* stage, Deadline d, std::string* raw_last_line = nullptr);
  Failure IoFailure(IoStatus s, const char* stage);
  Failure Said(const Reply& reply, const char* in_reply_to) const;
  Status Ehlo(Deadline overall, AttemptResult& result);
  Status TlsHandshake(Deadline overall);
  Status Authenticate(Deadline overall, AttemptResult& result);
  // AUTH with one client: ok and refusal.code == 0 when accepted; ok and
  // the server's final non-2xx reply in refusal when it said no; a Failure
  // when the exchange itself broke.
  Status AuthExchange(SaslClient& client, const SaslStep& start, Deadline overall, Reply& refusal);
  Status SendBody(MessageSource& message, Deadline overall, std::string_view after_dot);
  void Quit(Deadline overall);
  // QUIT, as smtp(8) says it, after the server refused something (greeting,
  // EHLO, STARTTLS, AUTH, MAIL...); not when the connection itself failed
  // (I/O error, timeout, garbage, a TLS failure), where nothing more can be
  // said safely.
  void QuitIfTalking(Deadline overall);
  bool DowngradesMime() const;  // smtp(8)'s test: no 8BITMIME, conversion on
  Failure MimeRefused();
  Deadline Stage(long seconds, Deadline overall) const;

  Transport& transport_;
  std::string server_;  // "host[addr]"
  std::uint16_t port_;
  const SessionPolicy& policy_;
  Capabilities caps_;
  bool helo_only_ = false;
  bool connection_broken_ = false;  // see QuitIfTalking
  // Everything we sent while authenticating (and the password itself):
  // every server line is scrubbed of it as it is read, before anything
  // logs, prints or quotes it.
  SecretScrubber sent_secrets_;
};

}  // namespace authrelay
