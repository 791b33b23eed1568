// Secret: a password, token, client secret or SASL response. Move-only,
// never printable, and wiped on every path (docs/DESIGN.md §8):
//  - the bytes live in a heap buffer of at least kMinCapacity, never in
//    std::string's small-string buffer inside the object, so a move hands
//    the buffer over instead of copying the bytes;
//  - a moved-from Secret, and the std::string a Secret is made from, are
//    wiped over their whole capacity;
//  - destruction, assignment and Clear() wipe the whole capacity;
//  - Append() wipes the old buffer when it has to grow.
// The only way to read it is Reveal(), which is easy to grep for; plain
// std::string copies are made only right at the library call that needs
// one (OpenSSL, Cyrus SASL, libcurl) and wiped there.
#pragma once

#include <string.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

namespace authrelay {

// Overwrites len bytes at p with zeros in a way the compiler may not drop.
// For the few buffers a library call needs as plain bytes (a Cyrus secret,
// an SMTP command line carrying a credential).
inline void WipeBytes(void* p, std::size_t len) { explicit_bzero(p, len); }

// Wipes a std::string over its whole capacity (bytes past size() may hold
// an earlier, longer value) and empties it.
inline void WipeString(std::string& s) {
  WipeBytes(s.data(), s.capacity());
  s.clear();
}

class Secret {
 public:
  // Larger than any small-string buffer (libstdc++: 15, libc++: 22), so the
  // bytes always live on the heap.
  static constexpr std::size_t kMinCapacity = 32;

  Secret() = default;
  // Takes the bytes and wipes value, whose small-string buffer would keep
  // them after a plain move.
  explicit Secret(std::string&& value) {
    Assign(value);
    WipeString(value);
  }
  explicit Secret(std::string_view value) { Assign(value); }
  explicit Secret(const char* value) : Secret(std::string_view(value)) {}
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

  // A second Secret holding the same bytes (e.g. to remember which token
  // was handed out).
  Secret Clone() const { return Secret(std::string_view(value_)); }
  // Adds bytes; when the buffer must grow, the old one is wiped first.
  void Append(std::string_view more) {
    if (value_.size() + more.size() > value_.capacity() || value_.capacity() < kMinCapacity) {
      std::string bigger;
      bigger.reserve(std::max(kMinCapacity, 2 * (value_.size() + more.size())));
      bigger.append(value_);
      Wipe();
      value_.swap(bigger);
    }
    value_.append(more);
  }
  Secret& operator+=(std::string_view more) {
    Append(more);
    return *this;
  }
  void Clear() { Wipe(); }

 private:
  void Assign(std::string_view v) {
    value_.reserve(std::max(kMinCapacity, v.size()));
    value_.assign(v);
  }
  void Wipe() { WipeString(value_); }

  std::string value_;
};

}  // namespace authrelay
