// Failure and Result<T>: every fallible function in authrelay returns one.
//
// A Failure is born classified by the code that sees the cause: an RFC 3463
// status ("4.4.1"), a public text that may reach Postfix's bounce (never a
// secret, local path or map name) and a log-only detail. Class 4 defers the
// mail, class 5 bounces it; when unsure, the code that creates the Failure
// must pick class 4.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace authrelay {

// What went wrong, for code to act on: remedies, --check and the report
// decide on this and on the server's reply, never on the wording of a
// message (docs/DESIGN.md §6). Add a cause when some code needs to tell
// this failure apart; most failures need none.
enum class Cause {
  kUnclassified,
  kServerReply,           // a server's reply decided it: server_reply() holds it
  kAuthRejected,          // the server refused our credentials (AUTH non-2xx)
  kProviderLimit,         // a provider's rate, quota or concurrency limit (smtp/throttle)
  kNoSaslMechanism,       // no AUTH mechanism both offered and allowed
  kTlsHandshake,          // the TLS handshake itself failed
  kTlsNotVerified,        // the certificate did not verify for the policy
  kTlsNotOffered,         // TLS required, STARTTLS not offered
  kTlsTrustUnreadable,    // CA file/directory unusable
  kNoGreeting,            // timed out waiting for the 220 greeting
  kConnectRefused,        // TCP connect got ECONNREFUSED
  kTableUnreadable,       // a lookup table could not be opened or read
};

// A server reply as received (sanitised): kept so remedies can match the
// provider's own status codes instead of our sentence around them.
struct ServerReply {
  int code = 0;      // 535
  std::string dsn;   // "5.7.8" (X.0.0 when the server sent none)
  std::string text;  // the lines joined, each with its code
};

class Failure {
 public:
  Failure(std::string dsn, std::string public_text, std::string log_detail = {})
      : dsn_(std::move(dsn)), text_(std::move(public_text)), detail_(std::move(log_detail)) {}

  // "4.x.y" or "5.x.y".
  const std::string& dsn() const { return dsn_; }
  // Safe for Postfix's bounce and the status line.
  const std::string& text() const { return text_; }
  // For the log only: may name paths and maps, never secrets. With the
  // local fix appended in parentheses when one is known ("... (chmod 600
  // it)"), which is how every log line shows it.
  std::string detail() const { return fix_.empty() ? detail_ : detail_ + " (" + fix_ + ")"; }
  // The detail without the fix, and the fix alone ("" if none): for
  // output that shows them apart (--check).
  const std::string& bare_detail() const { return detail_; }
  const std::string& fix() const { return fix_; }
  Cause cause() const { return cause_; }
  // The server's reply behind this failure; code 0 when none.
  const ServerReply& server_reply() const { return reply_; }
  // The setting whose value is at fault ("smtp_tls_CAfile"), when the
  // failure is about one; "" otherwise. With cause(), what --check uses to
  // name one fault once however many checks meet it.
  const std::string& setting() const { return setting_; }

  bool permanent() const { return !dsn_.empty() && dsn_[0] == '5'; }

  Failure& WithCause(Cause cause) & { cause_ = cause; return *this; }
  Failure&& WithCause(Cause cause) && { cause_ = cause; return std::move(*this); }
  // The fix the code that saw the cause knows (a command, a setting).
  Failure&& WithFix(std::string fix) && { fix_ = std::move(fix); return std::move(*this); }
  Failure&& WithSetting(std::string setting) && { setting_ = std::move(setting); return std::move(*this); }
  // The server reply that decided this failure; sets the cause to
  // kServerReply unless a more specific one is given.
  Failure&& WithReply(ServerReply reply, Cause cause = Cause::kServerReply) && {
    reply_ = std::move(reply);
    cause_ = cause;
    return std::move(*this);
  }

  // Returns a copy whose class digit is 4 (used for soft bounce).
  Failure Softened() const {
    Failure f = *this;
    if (!f.dsn_.empty() && f.dsn_[0] == '5') f.dsn_[0] = '4';
    return f;
  }

 private:
  std::string dsn_;
  std::string text_;
  std::string detail_;
  std::string fix_;
  std::string setting_;
  Cause cause_ = Cause::kUnclassified;
  ServerReply reply_;
};

// A warning worth a line in the log and in --check: what is wrong and, apart,
// how to fix it.
struct Notice {
  std::string what;
  std::string fix;  // "" if none
  // "what (fix)": the form the log shows.
  std::string Line() const { return fix.empty() ? what : what + " (" + fix + ")"; }
};

// A configuration mistake (main.cf, argv, a map entry): deferred, never
// bounced. what must say what is wrong and hold no secret or directory; it
// goes to the status line and the log alike.
inline Failure ConfigFailure(std::string what) {
  return Failure("4.3.5", "mail system configuration error: " + what, what);
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Failure failure) : v_(std::move(failure)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Failure& failure() const { return std::get<1>(v_); }

 private:
  std::variant<T, Failure> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Failure failure) : failure_(std::move(failure)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  const Failure& failure() const { return failure_; }

 private:
  Failure failure_{"", ""};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace authrelay
