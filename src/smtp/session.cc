#include "smtp/session.h"

#include <algorithm>
#include <chrono>

#include "core/base64.h"
#include "core/sanitize.h"
#include "log/log.h"
#include "smtp/dsn.h"
#include "smtp/mime_downgrade.h"
#include "smtp/throttle.h"

namespace authrelay {
namespace {

// smtp(8)'s stage names, used in "lost connection with H[A] while ...".
constexpr const char* kGreeting = "receiving the initial server greeting";
constexpr const char* kEhlo = "performing the EHLO handshake";
constexpr const char* kHelo = "performing the HELO handshake";
constexpr const char* kStartTls = "receiving the STARTTLS response";
constexpr const char* kAuth = "performing the AUTH handshake";
constexpr const char* kMail = "sending MAIL FROM";
constexpr const char* kRcpt = "sending RCPT TO";
constexpr const char* kData = "sending DATA command";
constexpr const char* kBody = "sending message body";
constexpr const char* kDot = "sending end of data -- message may be sent more than once";
constexpr const char* kQuit = "sending QUIT";

bool NonAscii(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// Replaces the class digit of a D.S.N.
std::string WithClass(const std::string& dsn, char cls) {
  std::string d = dsn;
  if (!d.empty()) d[0] = cls;
  return d;
}

// The reply a failure stems from, for remedies that match the provider's
// status codes.
ServerReply Replied(const Reply& r) { return {r.code, r.dsn, r.Text()}; }

}  // namespace

Session::Session(Transport& transport, std::string server_name, std::uint16_t port, const SessionPolicy& policy)
    : transport_(transport), server_(std::move(server_name)), port_(port), policy_(policy) {
  // The password itself crosses only inside AUTH responses, and each of
  // those is added to sent_secrets_ (raw, base64, and the SASL fields) as
  // it is sent: nothing of it can be quoted back unscrubbed.
  if (policy_.known_password) sent_secrets_.Add(policy_.known_password->Reveal(), /*pieces=*/true);
}

Deadline Session::Stage(long seconds, Deadline overall) const {
  return Deadline::After(std::chrono::seconds(seconds)).Min(overall);
}

Failure Session::IoFailure(IoStatus s, const char* stage) {
  connection_broken_ = true;
  std::string why = sent_secrets_.Scrub(transport_.last_error());
  if (s == IoStatus::kTimeout) {
    return Failure("4.4.2", "conversation with " + server_ + " timed out while " + stage)
        .WithCause(stage == kGreeting ? Cause::kNoGreeting : Cause::kUnclassified);
  }
  return Failure("4.4.2", "lost connection with " + server_ + " while " + stage, why);
}

Failure Session::Said(const Reply& reply, const char* in_reply_to) const {
  return WithThrottle(Failure(reply.dsn, "host " + server_ + " said: " + reply.Text() + " (in reply to " + in_reply_to + ")")
                          .WithReply(Replied(reply)),
                      reply);
}

Status Session::Send(const std::string& line, const char* stage, Deadline d, bool secret) {
  if (policy_.trace) {
    if (secret) log::Info("> " + server_ + ": <client SASL response redacted, " + std::to_string(line.size()) + " bytes>");
    else log::Info("> " + server_ + ": " + Printable(line, 300));
  }
  IoStatus s;
  if (secret) {  // the framed copy holds a credential too
    Secret framed{std::string_view(line)};
    framed += "\r\n";
    s = transport_.Write(framed.Reveal(), d);
  } else {
    s = transport_.Write(line + "\r\n", d);
  }
  if (s != IoStatus::kOk) return IoFailure(s, stage);
  return {};
}

Status Session::Receive(Reply& reply, const char* stage, Deadline d, std::string* raw_last_line) {
  ReplyParser parser;
  std::string line;
  for (;;) {
    IoStatus s = transport_.ReadLine(line, policy_.reply_line_limit, d);
    if (s != IoStatus::kOk) return IoFailure(s, stage);
    if (raw_last_line) *raw_last_line = line;
    // The one place server text comes in: scrubbed before anything sees it.
    if (!sent_secrets_.empty()) line = sent_secrets_.Scrub(line);
    ReplyParser::State st = parser.Feed(line);
    if (st == ReplyParser::State::kMore) continue;
    if (st == ReplyParser::State::kError) {
      // Garbage from the server: we cannot tell what it accepted, so defer.
      connection_broken_ = true;
      return Failure("4.5.0", "host " + server_ + " sent a malformed reply while " + stage + ": " + parser.error());
    }
    reply = parser.Take();
    if (policy_.trace) {
      for (const auto& l : reply.lines) log::Info("< " + server_ + ": " + l);
    }
    return {};
  }
}

Status Session::TlsHandshake(Deadline overall) {
  TlsFailure f = transport_.StartTls(Stage(policy_.starttls_timeout, overall));
  if (f != TlsFailure::kNone) connection_broken_ = true;
  if (f == TlsFailure::kTimeout) {
    return Failure("4.4.2", "conversation with " + server_ + " timed out while performing the TLS handshake");
  }
  if (f == TlsFailure::kHandshake) {
    log::Warning("TLS handshake with " + server_ + ":" + std::to_string(port_) + " failed: " + transport_.last_error());
    return Failure("4.7.5", "Cannot start TLS: handshake failure", transport_.last_error())
        .WithCause(Cause::kTlsHandshake);
  }
  const TlsInfo* info = transport_.tls();
  if (f == TlsFailure::kNotVerified) {
    log::Warning("server certificate verification failed for " + server_ + ":" + std::to_string(port_) + ": " +
                 (info ? Printable(info->verify_error, 200) + ", certificate subject CN=" + info->peer_subject : "") +
                 " (check the next hop name, smtp_tls_CAfile and smtp_tls_security_level)");
    return Failure("4.7.5", "Server certificate not verified").WithCause(Cause::kTlsNotVerified);
  }
  if (info) {
    if (info->resumed) log::Debug(server_ + ":" + std::to_string(port_) + ": Reusing old session");
    const char* kind = info->verified ? "Verified" : (info->trusted ? "Trusted" : "Untrusted");
    log::Info(std::string(kind) + " TLS connection established to " + server_ + ":" + std::to_string(port_) + ": " +
              info->protocol + " with cipher " + info->cipher + " (" + std::to_string(info->bits) + "/" +
              std::to_string(info->bits) + " bits)");
  }
  return {};
}

Status Session::Ehlo(Deadline overall, AttemptResult& result) {
  Deadline d = Stage(policy_.helo_timeout, overall);
  if (Status st = Send("EHLO " + policy_.helo_name, kEhlo, d); !st.ok()) return st;
  Reply r;
  if (Status st = Receive(r, kEhlo, d); !st.ok()) return st;
  if (r.cls() == 2) {
    caps_ = ParseEhlo(r);
    result.capabilities = caps_;
    return {};
  }
  if (r.code == 421) {
    return Failure(WithClass(r.dsn, '4'), "host " + server_ + " refused to talk to me: " + r.Text())
        .WithReply(Replied(r));
  }
  // RFC 5321 §3.2: fall back to HELO.
  if (Status st = Send("HELO " + policy_.helo_name, kHelo, d); !st.ok()) return st;
  if (Status st = Receive(r, kHelo, d); !st.ok()) return st;
  if (r.cls() != 2) {
    return Failure(WithClass(r.dsn, '4'), "host " + server_ + " refused to talk to me: " + r.Text())
        .WithReply(Replied(r));
  }
  caps_ = Capabilities();
  helo_only_ = true;
  result.capabilities = caps_;
  return {};
}

Status Session::Authenticate(Deadline overall, AttemptResult& result) {
  const TlsInfo* tls = transport_.tls();
  result.offered_mechanisms = caps_.auth_mechanisms;
  if (!tls && !policy_.allow_plaintext_auth) {
    log::Warning("not sending credentials to " + server_ + ":" + std::to_string(port_) +
                 " over an unencrypted connection (set smtp_tls_security_level = secure, or "
                 "authrelay_allow_plaintext_auth = yes if you really mean it)");
    return Failure("4.7.4", "TLS is required for SASL authentication, but the connection to " + server_ +
                                " is not encrypted");
  }
  const char* parameter = !tls ? "smtp_sasl_security_options"
                          : tls->verified ? "smtp_sasl_tls_verified_security_options"
                                          : "smtp_sasl_tls_security_options";
  const std::string& options = !tls ? policy_.sasl_options_plain
                               : tls->verified ? policy_.sasl_options_verified
                                               : policy_.sasl_options_tls;
  auto flags = ParseSaslSecurityOptions(parameter, options);
  if (!flags.ok()) return flags.failure();

  std::vector<std::string> dropped;
  std::vector<std::string> mechs = FilterMechanisms(caps_.auth_mechanisms, policy_.mechanism_filter, &dropped);
  std::string offered;
  for (const auto& m : caps_.auth_mechanisms) offered += (offered.empty() ? "" : " ") + m;
  if (mechs.empty()) {
    log::Warning(server_ + " offered no supported AUTH mechanisms: '" + offered +
                 "' (smtp_sasl_mechanism_filter = " + Printable(policy_.mechanism_filter, 100) + ")");
    return Failure("4.7.0", "SASL authentication failed: server " + server_ +
                                " offered no compatible authentication mechanisms for this type of connection security")
        .WithCause(Cause::kNoSaslMechanism);
  }
  // One AUTH exchange; a second only when the server refused an OAuth
  // access token we had not just fetched (revoked or cut short before its
  // expiry): then one new token, once.
  for (bool renew : {false, true}) {
    auto client = policy_.sasl_factory(flags.value(), renew);
    // The credentials' own failure keeps its status (4.3.5: an unusable
    // password file is a local configuration problem).
    if (!client.ok()) return Failure(client.failure().dsn(), "SASL authentication failed; cannot authenticate to server " + server_ +
                                                  ": " + client.failure().text(), client.failure().detail());
    auto start = client.value()->Start(mechs);
    if (!start.ok()) {
      std::string allowed;
      for (const auto& m : mechs) allowed += (allowed.empty() ? "" : " ") + m;
      std::string why;
      for (const auto& d : dropped) why += "; " + d;
      log::Warning("SASL: server " + server_ + " offered '" + offered + "', the mechanism filter allowed '" + allowed +
                   "', and none of those is usable with " + parameter + " = " + Printable(options, 100) +
                   " and the installed Cyrus SASL client plugins" + why + " (" + start.failure().detail() +
                   "; e.g. PLAIN and LOGIN need " + parameter + " without noplaintext)");
      return Failure("4.7.0", "SASL authentication failed; cannot authenticate to server " + server_ + ": " +
                                  start.failure().text())
          .WithCause(start.failure().cause());
    }
    result.chosen_mechanism = start.value().mechanism;
    Reply refusal;
    if (Status st = AuthExchange(*client.value(), start.value(), overall, refusal); !st.ok()) return st;
    if (refusal.code == 0) {
      log::Info("authenticated to " + server_ + ":" + std::to_string(port_) + " as " + Printable(*policy_.sasl_username, 200) +
                " with mechanism " + start.value().mechanism);
      return {};
    }
    bool credentials_refused = refusal.code == 535 || refusal.dsn == "5.7.8" || refusal.dsn == "4.7.8";
    if (!renew && credentials_refused && client.value()->MayRenewCredentials()) {
      log::Info("server " + server_ + " refused the OAuth access token for " + Printable(*policy_.sasl_username, 200) +
                " (" + refusal.Text() + "); getting a new one and trying once more");
      continue;
    }
    Failure f = WithThrottle(Failure(refusal.dsn, "SASL authentication failed; server " + server_ + " said: " + refusal.Text())
                                 .WithReply(Replied(refusal), Cause::kAuthRejected),
                             refusal);
    return policy_.auth_soft_bounce ? f.Softened() : f;
  }
  return {};  // not reached: the second pass always returns
}

Status Session::AuthExchange(SaslClient& client, const SaslStep& start, Deadline overall, Reply& refusal) {
  Deadline d = Stage(policy_.helo_timeout, overall);
  Secret command("AUTH " + start.mechanism);
  bool sent_inline = false;
  const std::string username = policy_.sasl_username.value_or(std::string());
  if (start.response) {
    sent_secrets_.AddSaslResponse(start.response->Reveal(), username);
    Secret b64(start.response->empty() ? std::string("=") : Base64Encode(start.response->Reveal()));
    sent_secrets_.Add(b64.Reveal(), /*pieces=*/false);  // the password's own forms cover its part
    // RFC 4954 §4 / smtp(8): inline only if the line stays within 512.
    if (command.size() + b64.size() + 3 <= 512) {
      command += " ";
      command += b64.Reveal();
      sent_inline = true;
    }
  }
  if (policy_.trace) {
    log::Info("> " + server_ + ": AUTH " + start.mechanism + (sent_inline ? " <initial response redacted>" : ""));
  }
  {
    command += "\r\n";
    IoStatus s = transport_.Write(command.Reveal(), d);
    if (s != IoStatus::kOk) return IoFailure(s, kAuth);
  }
  bool pending_initial = start.response.has_value() && !sent_inline;
  for (int steps = 0; steps < 100; ++steps) {
    Reply r;
    std::string raw_line;
    if (Status st = Receive(r, kAuth, d, &raw_line); !st.ok()) return st;
    if (r.cls() == 2) return {};
    if (r.code != 334) {
      refusal = std::move(r);
      return {};
    }
    Secret response;
    if (pending_initial) {
      response = start.response->Clone();
      pending_initial = false;
    } else {
      // Decoded from the line as sent: scrubbing is for text we show.
      std::string_view challenge_b64 = raw_line.size() > 4 ? std::string_view(raw_line).substr(4) : "";
      auto challenge = Base64Decode(challenge_b64);
      if (!challenge) {
        (void)Send("*", kAuth, d);
        return Failure("4.7.0", "SASL authentication failed; server " + server_ + " sent a malformed challenge");
      }
      auto step = client.Step(*challenge);
      if (!step.ok()) {
        (void)Send("*", kAuth, d);
        return Failure("4.7.0", "SASL authentication failed; cannot authenticate to server " + server_ + ": " +
                                    sent_secrets_.Scrub(step.failure().text()),
                       sent_secrets_.Scrub(step.failure().detail()));
      }
      response = std::move(step).value();
    }
    Secret encoded(Base64Encode(response.Reveal()));
    sent_secrets_.AddSaslResponse(response.Reveal(), username);
    sent_secrets_.Add(encoded.Reveal(), /*pieces=*/false);
    if (Status st = Send(encoded.Reveal(), kAuth, d, /*secret=*/true); !st.ok()) return st;
  }
  return Failure("4.3.0", "SASL authentication failed; server " + server_ + ": too many SASL steps");
}

Status Session::SendBody(MessageSource& message, Deadline overall, std::string_view after_dot) {
  // A server without 8BITMIME gets 8-bit MIME parts as quoted-printable
  // (docs/DESIGN.md, "8-bit mail to a 7-bit server").
  BodyEncoder encoder(policy_.line_length_limit, DowngradesMime() ? &policy_.mime : nullptr);
  // Not zero-filled: a 3 KB message then touches one page of it, not 16.
  constexpr std::size_t kChunk = 64 * 1024;
  std::unique_ptr<char[]> in(new char[kChunk]);
  std::string out;
  out.reserve(80 * 1024);
  for (;;) {
    long n = message.Read(in.get(), kChunk);
    if (n < 0) {
      // We cannot finish the message: drop the connection without the
      // final dot so the server discards it, and defer.
      return Failure("4.3.0", "error reading the message from Postfix", "read from stdin failed");
    }
    if (n == 0) break;
    out.clear();
    encoder.Encode(std::string_view(in.get(), static_cast<std::size_t>(n)), out);
    if (encoder.refused()) return MimeRefused();
    IoStatus s = transport_.Write(out, Stage(policy_.data_xfer_timeout, overall));
    if (s != IoStatus::kOk) return IoFailure(s, kBody);
  }
  out.clear();
  encoder.Finish(out);
  if (encoder.refused()) return MimeRefused();
  out += after_dot;
  IoStatus s = transport_.Write(out, Stage(policy_.data_xfer_timeout, overall));
  if (s != IoStatus::kOk) return IoFailure(s, kDot);
  return {};
}

bool Session::DowngradesMime() const { return policy_.mime.output_conversion && !caps_.eightbitmime; }

Failure Session::MimeRefused() {
  // Mid-DATA: only dropping the connection cancels the transaction.
  connection_broken_ = true;
  return Failure("5.6.0", "MIME nesting exceeds safety limit: more than mime_nesting_limit = " +
                              std::to_string(policy_.mime.nesting_limit) +
                              " multipart levels, and server " + server_ + " needs it converted (no 8BITMIME)")
      .WithFix("raise mime_nesting_limit, or set disable_mime_output_conversion = yes to send it unconverted");
}

void Session::QuitIfTalking(Deadline overall) {
  if (!connection_broken_) Quit(overall);
}

void Session::Quit(Deadline overall) {
  Deadline d = Stage(std::min<long>(policy_.quit_timeout, 5), overall);
  if (!Send("QUIT", kQuit, d).ok()) return;
  Reply r;
  (void)Receive(r, kQuit, d);
}

AttemptResult Session::Run(const Envelope& env, MessageSource& message, Deadline overall) {
  AttemptResult result;
  // Before MAIL: another server of the next hop may take the mail.
  auto fail_early = [&](Failure f) {
    QuitIfTalking(overall);
    result.failure = std::move(f);
    result.try_next = true;
    return result;
  };
  auto fail = [&](Failure f) {
    result.failure = std::move(f);
    result.try_next = false;
    return result;
  };

  // Every address as it goes on the wire, quoted as smtp(8) quotes it.
  // The caller refuses bad addresses before connecting; this is the guard
  // that nothing else can reach the MAIL or RCPT line.
  EnvelopePath sender = MakeEnvelopePath(env.sender, /*null_allowed=*/true);
  if (!sender.ok()) {
    connection_broken_ = true;  // nothing said yet
    return fail(Failure("5.1.7", "bad sender address syntax: " + sender.problem));
  }
  std::vector<std::string> rcpt_paths;
  for (const std::string& rcpt : env.recipients) {
    EnvelopePath p = MakeEnvelopePath(rcpt, /*null_allowed=*/false);
    if (!p.ok()) {
      connection_broken_ = true;
      return fail(Failure("5.1.3", "bad recipient address syntax: " + p.problem));
    }
    rcpt_paths.push_back(std::move(p.path));
  }

  if (policy_.wrappermode) {
    if (Status st = TlsHandshake(overall); !st.ok()) return fail_early(st.failure());
  }
  Reply r;
  if (policy_.resume) {
    // A held session: its first delivery did the greeting, TLS and AUTH.
    // RSET first, as smtp(8) does on a reused connection; a session that
    // fails here carried nothing of this message, so another may be tried.
    caps_ = *policy_.resume;
    result.capabilities = caps_;
    // smtp_rset_timeout, as smtp(8) on a reused connection: a silent holder
    // costs that, and a direct connection still has the rest of the deadline.
    Deadline d = Stage(policy_.rset_timeout, overall);
    if (Status st = Send("RSET", "sending RSET", d); !st.ok()) return fail_early(st.failure());
    if (Status st = Receive(r, "sending RSET", d); !st.ok()) return fail_early(st.failure());
    if (r.cls() != 2) return fail_early(Said(r, "RSET command"));
    goto transaction;
  }
  if (Status st = Receive(r, kGreeting, Stage(policy_.helo_timeout, overall)); !st.ok()) return fail_early(st.failure());
  if (r.cls() != 2) {
    std::string dsn = r.dsn;
    if (r.cls() == 5 && policy_.skip_5xx_greeting) dsn = WithClass(dsn, '4');
    return fail_early(WithThrottle(Failure(dsn, "host " + server_ + " refused to talk to me: " + r.Text()).WithReply(Replied(r)), r));
  }
  if (Status st = Ehlo(overall, result); !st.ok()) return fail_early(st.failure());

  if (!transport_.tls() && policy_.tls_level != TlsLevel::kNone) {
    if (caps_.starttls) {
      Deadline d = Stage(policy_.starttls_timeout, overall);
      if (Status st = Send("STARTTLS", kStartTls, d); !st.ok()) return fail_early(st.failure());
      if (Status st = Receive(r, kStartTls, d); !st.ok()) return fail_early(st.failure());
      if (r.cls() == 2) {
        // CVE-2011-0411: anything the server sent after its 220 came in
        // plaintext. It is dropped unread, as smtp(8) does, so it can never
        // pass for a reply that came over TLS; TLS then starts as usual.
        if (std::size_t dropped = transport_.DiscardUnreadInput()) {
          log::Warning("discarded " + std::to_string(dropped) + " bytes of plaintext that " + server_ +
                       " sent after its STARTTLS response (a broken server or a command injection attempt); "
                       "they are never read as TLS data");
        }
        if (Status st = TlsHandshake(overall); !st.ok()) return fail_early(st.failure());
        if (Status st = Ehlo(overall, result); !st.ok()) return fail_early(st.failure());  // forget pre-TLS capabilities
      } else if (r.code == 421) {
        // The server is closing the connection: as smtp(8), end this session
        // and try the next server instead of going on in plaintext.
        return fail_early(Said(r, "STARTTLS"));
      } else if (TlsRequired(policy_.tls_level)) {
        return fail_early(Failure(WithClass(r.dsn, '4'), "TLS is required, but host " + server_ +
                                                             " refused to start TLS: " + r.Text())
                              .WithReply(Replied(r)));
      }
    } else if (TlsRequired(policy_.tls_level)) {
      return fail_early(
          Failure("4.7.4", "TLS is required, but was not offered by host " + server_).WithCause(Cause::kTlsNotOffered));
    }
  }

  if (policy_.sasl_username) {
    if (caps_.auth) {
      if (Status st = Authenticate(overall, result); !st.ok()) return fail_early(st.failure());
    } else {
      log::Info("server " + server_ + " offers no AUTH; sending without authentication");
    }
  }

transaction:
  if (env.size && caps_.size_limit && *env.size > *caps_.size_limit) {
    Quit(overall);
    return fail(Failure("5.3.4", "message size " + std::to_string(*env.size) + " exceeds size limit " +
                                     std::to_string(*caps_.size_limit) + " of server " + server_));
  }
  bool need_utf8 = NonAscii(env.sender) ||
                   std::any_of(env.recipients.begin(), env.recipients.end(), NonAscii);
  if (need_utf8 && !caps_.smtputf8) {
    Quit(overall);
    return fail(Failure("5.6.7", "SMTPUTF8 is required, but was not offered by host " + server_));
  }

  std::string mail = "MAIL FROM:<" + sender.path + ">";
  // As smtp(8): no SIZE when the body may be converted (its size changes).
  if (caps_.size && env.size && !DowngradesMime()) mail += " SIZE=" + std::to_string(*env.size);
  if (caps_.eightbitmime) mail += " BODY=8BITMIME";
  if (need_utf8) mail += " SMTPUTF8";
  // RFC 2920: with PIPELINING, MAIL, every RCPT and DATA go out in one
  // write and their replies are read in order: one round trip instead of
  // 2 + recipients. A group that could fill the socket buffers while the
  // server's replies wait unread is sent in lock step instead.
  std::size_t group_bytes = mail.size() + 8;
  for (std::size_t i = 0; i < rcpt_paths.size(); ++i) {
    group_bytes += rcpt_paths[i].size() + 12 + OrcptAt(caps_.dsn, env, i).size();
  }
  const bool pipelined = caps_.pipelining && group_bytes <= 16 * 1024;
  const bool send_data = !policy_.dry_run;
  if (pipelined) {
    std::string group = mail + "\r\n";
    for (std::size_t i = 0; i < rcpt_paths.size(); ++i) {
      group += "RCPT TO:<" + rcpt_paths[i] + ">" + OrcptAt(caps_.dsn, env, i) + "\r\n";
    }
    if (send_data) group += "DATA\r\n";
    if (policy_.trace) {
      // The transcript shows every command, as if sent one by one.
      log::Info("> " + server_ + ": " + Printable(mail, 300) + " (pipelined)");
      for (const std::string& rcpt : rcpt_paths) log::Info("> " + server_ + ": RCPT TO:<" + Printable(rcpt, 300) + ">");
      if (send_data) log::Info("> " + server_ + ": DATA");
    }
    IoStatus s = transport_.Write(group, Stage(policy_.mail_timeout, overall));
    if (s != IoStatus::kOk) return fail(IoFailure(s, kMail));
  }
  // Sends one command unless it already went out in the group; reads its reply.
  auto command = [&](const std::string& line, const char* stage, long timeout, Reply& reply) -> Status {
    Deadline d = Stage(timeout, overall);
    if (!pipelined) {
      if (Status st = Send(line, stage, d); !st.ok()) return st;
    }
    return Receive(reply, stage, d);
  };

  if (Status st = command(mail, kMail, policy_.mail_timeout, r); !st.ok()) return fail(st.failure());
  Status mail_accepted;
  if (r.cls() != 2) {
    mail_accepted = Said(r, "MAIL FROM command");
    if (!pipelined) {
      Quit(overall);
      return fail(mail_accepted.failure());
    }
  }

  std::vector<Failure> refused;
  for (std::size_t i = 0; i < rcpt_paths.size(); ++i) {
    const std::string& rcpt = rcpt_paths[i];
    if (!mail_accepted.ok() && !pipelined) break;
    if (Status st = command("RCPT TO:<" + rcpt + ">" + OrcptAt(caps_.dsn, env, i), kRcpt, policy_.rcpt_timeout, r);
        !st.ok()) {
      return fail(mail_accepted.ok() ? st.failure() : mail_accepted.failure());
    }
    if (r.cls() != 2 && mail_accepted.ok()) {
      refused.push_back(Said(r, "RCPT TO command"));
      log::Info("to=<" + Printable(rcpt, 300) + ">: " + refused.back().text());
    }
  }
  // The pipelined DATA's reply, when something before it failed: a 354
  // here would start a message we must not finish, so the connection is
  // dropped without the final dot (the server then discards it).
  auto abandon = [&](Failure f) {
    if (pipelined && send_data) {
      Reply data_reply;
      if (!Receive(data_reply, kData, Stage(policy_.data_init_timeout, overall)).ok() || data_reply.code == 354) {
        return fail(std::move(f));
      }
    }
    Quit(overall);
    return fail(std::move(f));
  };
  if (!mail_accepted.ok()) return abandon(mail_accepted.failure());
  if (!refused.empty()) {
    bool all_permanent = refused.size() == env.recipients.size() &&
                         std::all_of(refused.begin(), refused.end(), [](const Failure& f) { return f.permanent(); });
    Failure first = refused.front();
    std::string text = first.text();
    if (refused.size() > 1) text += " (and " + std::to_string(refused.size() - 1) + " more recipients refused)";
    std::string dsn = all_permanent ? first.dsn() : WithClass(first.dsn(), '4');
    if (!all_permanent && refused.size() < env.recipients.size()) {
      text += "; nothing was sent, so the other recipients are deferred too";
    }
    return abandon(Failure(dsn, text).WithReply(first.server_reply(), first.cause()));
  }

  if (policy_.dry_run) {
    Deadline d = Stage(policy_.quit_timeout, overall);
    if (Send("RSET", "sending RSET", d).ok()) (void)Receive(r, "sending RSET", d);
    Quit(overall);
    result.delivered = true;
    result.final_reply = "dry run: server accepted MAIL FROM and every RCPT TO; nothing sent";
    return result;
  }

  if (Status st = command("DATA", kData, policy_.data_init_timeout, r); !st.ok()) return fail(st.failure());
  if (r.code != 354) {
    Quit(overall);
    if (r.cls() == 2) {
      return fail(Failure("4.5.0", "Protocol error: host " + server_ + " said: " + r.Text() +
                                       " (in reply to DATA command)")
                      .WithReply(Replied(r)));
    }
    return fail(Said(r, "DATA command"));
  }
  // As smtp(8) with PIPELINING: QUIT goes out with the final dot and its
  // 221 is not waited for, unless the session is to be kept open.
  const bool quit_with_dot = caps_.pipelining && !policy_.keep_open;
  if (Status st = SendBody(message, overall, quit_with_dot ? "QUIT\r\n" : ""); !st.ok()) return fail(st.failure());
  if (Status st = Receive(r, kDot, Stage(policy_.data_done_timeout, overall)); !st.ok()) {
    log::Warning("the message may be delivered more than once: " + st.failure().text());
    return fail(st.failure());
  }
  if (r.cls() != 2) {
    if (!quit_with_dot) Quit(overall);
    return fail(Said(r, "end of DATA command"));
  }
  result.delivered = true;
  result.final_reply = r.Text();
  if (!quit_with_dot && !policy_.keep_open) Quit(overall);
  return result;
}

}  // namespace authrelay
