// Secret: a password or token. Move-only, never printable, wiped on
// destruction. The only way to read it is Reveal(), which is easy to grep for.
#pragma once

#include <string.h>

#include <string>
#include <utility>

namespace authrelay {

// Overwrites len bytes at p with zeros in a way the compiler may not drop.
// For the few buffers a library call needs as plain bytes (a Cyrus secret,
// an SMTP command line carrying a credential).
inline void WipeBytes(void* p, std::size_t len) { explicit_bzero(p, len); }

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.Wipe(); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      Wipe();
      value_ = std::move(other.value_);
      other.Wipe();
    }
    return *this;
  }
  ~Secret() { Wipe(); }

  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  std::size_t size() const { return value_.size(); }

 private:
  void Wipe() {
    if (!value_.empty()) explicit_bzero(value_.data(), value_.size());
    value_.clear();
  }
  std::string value_;
};

}  // namespace authrelay
