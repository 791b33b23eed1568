// Transport: the byte stream an SMTP session talks over. The session sees
// only this interface, so protocol tests can run it over a loopback socket
// against a scripted server, and unit tests over an in-memory fake.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/deadline.h"

namespace authrelay {

enum class IoStatus { kOk, kEof, kTimeout, kError };

struct TlsInfo {
  std::string protocol;           // "TLSv1.3"
  std::string cipher;             // "TLS_AES_256_GCM_SHA384"
  int bits = 0;
  bool trusted = false;           // chain verified against the CAs
  bool verified = false;          // chain and name (or fingerprint) matched
  bool resumed = false;           // an earlier session was resumed
  std::string peer_subject;       // subject CN of the server certificate
  std::string verify_error;       // OpenSSL's reason when not verified
  std::vector<std::string> chain; // "depth 0: subject=..., issuer=..."
};

enum class TlsFailure { kNone, kHandshake, kNotVerified, kTimeout };

class Transport {
 public:
  virtual ~Transport() = default;
  // Reads one line without its CRLF (a bare LF also ends it). A line longer
  // than max_len is cut there and the rest of it discarded.
  virtual IoStatus ReadLine(std::string& line, std::size_t max_len, Deadline deadline) = 0;
  virtual IoStatus Write(std::string_view data, Deadline deadline) = 0;
  // Drops whatever the server has sent that was not read yet and returns how
  // many bytes that was. Called after the 220 to STARTTLS: those bytes came
  // in plaintext, so they must never be read as if they came over TLS.
  virtual std::size_t DiscardUnreadInput() = 0;
  // Runs the TLS handshake with the policy bound at construction and checks
  // the server certificate per that policy.
  virtual TlsFailure StartTls(Deadline deadline) = 0;
  // nullptr until TLS is up.
  virtual const TlsInfo* tls() const = 0;
  // Why the last call failed (OS or OpenSSL text), for the log only.
  virtual const std::string& last_error() const = 0;
};

}  // namespace authrelay
