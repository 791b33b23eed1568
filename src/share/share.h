// Connection sharing for the pipe transport, without a daemon.
//
// A delivery that sent its message over a new authenticated TLS session may
// leave that session to a holder: a detached process of the pipe user that
// keeps the session open and listens on a Unix socket in a private
// directory. A later delivery whose settings produce the same key connects
// to that socket and runs its own transaction (RSET, MAIL, RCPT, DATA)
// through it; the holder relays the plaintext SMTP bytes to and from TLS and
// never looks at them. One client at a time per holder; up to `slots`
// holders per key.
//
// The key is a keyed hash (HMAC-SHA-256 with a random secret kept 0600 in
// the directory) over everything that makes a session fit for another
// message: next hop, server address and port, the credentials actually used,
// the whole TLS policy with the identity of its CA files, the SASL settings,
// the HELO name and the uid. Anything that changes gives another key, so an
// old session is never used with new settings.
//
// Wire protocol on the Unix socket (both ends are the same uid, checked with
// SO_PEERCRED):
//   client -> holder  "USE\n" or "STAT\n"
//   holder -> client  "BUSY\n", or "OK <status words>\n"
//   then, for USE: client -> holder frames (4-byte big-endian length, then
//   that many bytes for the server; length 0 = "my transaction ended with
//   2xx, the session is clean"); holder -> client the server's bytes as they
//   come. A client that closes without the clean frame leaves the session in
//   an unknown state: the holder drops it without another word to the server.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "config/main_cf.h"
#include "core/digest.h"
#include "core/result.h"
#include "core/secret.h"
#include "core/unique_fd.h"
#include "log/log.h"
#include "core/transport.h"
#include "smtp/ehlo.h"

namespace authrelay {
class Connection;
class TlsClient;
}  // namespace authrelay

namespace authrelay::share {

struct ShareSettings {
  bool enabled = false;          // authrelay_connection_reuse
  std::string directory;         // authrelay_connection_reuse_directory
  long time_limit = 300;         // smtp_connection_reuse_time_limit
  long count_limit = 0;          // smtp_connection_reuse_count_limit (0 = none)
  long idle_limit = 2;           // smtp_connection_cache_time_limit
  long slots = 20;               // authrelay_destination_concurrency_limit
  long client_limit = 1000;      // authrelay_time_limit: no delivery runs longer
};

Result<ShareSettings> LoadShareSettings(const MainCf& cf);

// The key's keyed hash (core/digest.h: no libcrypto on this path).
using authrelay::HmacSha256;
using authrelay::Hex;
using authrelay::Sha256;

// What a file contributes to a key: path, inode, size, mtime ("" if absent).
std::string FileIdentity(const std::string& path);

// The key material, in one place; callers Add() each field with a label.
class KeyMaterial {
 public:
  void Add(std::string_view label, std::string_view value);
  const std::string& text() const { return text_.Reveal(); }

 private:
  Secret text_;
};

// The private directory (created 0700 if missing; refused if it is not a
// real directory owned by us with no group/other access) and its key file.
// Returns the socket base name for this material.
Result<std::string> KeyName(const std::string& directory, const KeyMaterial& material);

// What the holder says about its session.
struct HeldStatus {
  long pid = 0;
  long use = 0;              // this client's conn_use (2 = first reuse)
  long age = 0;              // seconds since the session was opened
  std::string server;        // "host[addr]:port"
  Capabilities caps;         // the EHLO after TLS
  TlsInfo tls;
};

// The client end: a Transport over the holder's socket.
class HeldTransport final : public Transport {
 public:
  HeldTransport(UniqueFd fd, HeldStatus status) : fd_(std::move(fd)), status_(std::move(status)) {}
  IoStatus ReadLine(std::string& line, std::size_t max_len, Deadline deadline) override;
  IoStatus Write(std::string_view data, Deadline deadline) override;
  // Never called (a held session's TLS is up already); drops what is buffered.
  std::size_t DiscardUnreadInput() override {
    std::size_t n = buf_.size() - std::min(pos_, buf_.size());
    buf_.clear();
    pos_ = 0;
    return n;
  }
  TlsFailure StartTls(Deadline) override { return TlsFailure::kHandshake; }
  const TlsInfo* tls() const override { return &status_.tls; }
  const std::string& last_error() const override { return error_; }
  const HeldStatus& status() const { return status_; }
  // The transaction ended with 2xx: the holder may give the session to the
  // next delivery.
  void MarkClean(Deadline deadline);

 private:
  IoStatus WriteRaw(std::string_view data, Deadline deadline);
  UniqueFd fd_;
  HeldStatus status_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

// Finds an idle holder for this key among its slots. A socket that refuses
// connections is stale and removed; one of another owner is ignored. The
// search as a whole ends within 2 s and before `deadline`.
std::unique_ptr<HeldTransport> ConnectHeld(const ShareSettings& cfg, const std::string& name, Deadline deadline);

// True if fewer than cfg.slots holders exist for this key (a new session
// may then be kept open for one).
bool SlotFree(const ShareSettings& cfg, const std::string& name);

// Every live holder in the directory, for --check and -v (asks with STAT,
// which does not use a session).
std::vector<HeldStatus> ListHeld(const ShareSettings& cfg);
// --check: whether sharing is on, and every held session.
void PrintHeld(std::ostream& out, const MainCf& cf);

// Hands a delivered session over for holding. Called by the delivery; the
// holder starts in DetachHolder(), after the status line is out.
void OfferSession(std::unique_ptr<TlsClient> tls, std::unique_ptr<Connection> conn, const ShareSettings& cfg,
                  std::string name, std::string server, const Capabilities& caps, const TlsInfo& info,
                  log::Options log_options);

// Called by main() after the status line is written and stdout flushed:
// if a session was offered, forks the holder (double fork, own session, no
// inherited descriptor but the server socket) and returns at once in this
// process, which then exits as usual.
void DetachHolder();

// Where main()'s argv lives, so a holder can replace what ps shows (the
// delivery's command line names the sender and recipients) with
// "authrelay: holder <server>". Called first thing in main().
void RememberArgv(int argc, char** argv);

}  // namespace authrelay::share
