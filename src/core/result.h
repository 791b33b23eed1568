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

class Failure {
 public:
  Failure(std::string dsn, std::string public_text, std::string log_detail = {})
      : dsn_(std::move(dsn)), text_(std::move(public_text)), detail_(std::move(log_detail)) {}

  // "4.x.y" or "5.x.y".
  const std::string& dsn() const { return dsn_; }
  // Safe for Postfix's bounce and the status line.
  const std::string& text() const { return text_; }
  // For the log only: may name paths and maps, never secrets.
  const std::string& detail() const { return detail_; }
  bool permanent() const { return !dsn_.empty() && dsn_[0] == '5'; }

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
