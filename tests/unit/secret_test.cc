// Secret wipes its bytes on every path. These tests look at memory the
// Secret owned or occupied, through unsigned char (allowed for any object
// representation), after a move, a clear and a destruction.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "core/secret.h"

using namespace authrelay;

namespace {

// True if needle occurs anywhere in the n bytes at p.
bool Holds(const void* p, std::size_t n, std::string_view needle) {
  const char* b = static_cast<const char*>(p);
  return std::search(b, b + n, needle.begin(), needle.end()) != b + n;
}

constexpr std::string_view kShort = "pw-Q7x";  // fits any small-string buffer

}  // namespace

BOOST_AUTO_TEST_SUITE(secret)

BOOST_AUTO_TEST_CASE(bytes_never_live_inside_the_object) {
  Secret s{std::string(kShort)};
  BOOST_TEST(s.Reveal() == kShort);
  // Not in the small-string buffer: a move could not leave a copy behind.
  BOOST_TEST(!Holds(&s, sizeof s, kShort));
  BOOST_TEST(s.Reveal().capacity() >= Secret::kMinCapacity);
}

BOOST_AUTO_TEST_CASE(moved_from_secret_keeps_nothing) {
  alignas(Secret) unsigned char storage[sizeof(Secret)];
  Secret* src = new (storage) Secret("pw-Q7x");
  Secret dst(std::move(*src));
  BOOST_TEST(dst.Reveal() == kShort);
  BOOST_TEST(src->empty());
  BOOST_TEST(!Holds(storage, sizeof storage, kShort));
  Secret assigned;
  assigned = std::move(dst);
  BOOST_TEST(assigned.Reveal() == kShort);
  BOOST_TEST(!Holds(&dst, sizeof dst, kShort));
  src->~Secret();
}

BOOST_AUTO_TEST_CASE(source_string_is_wiped) {
  std::string s(kShort);  // short: its bytes sit in the string object itself
  Secret taken(std::move(s));
  BOOST_TEST(!Holds(&s, sizeof s, kShort));
  std::string longer(100, 'k');
  const char* heap = longer.data();
  std::size_t cap = longer.capacity();
  Secret taken_long(std::move(longer));
  // The Secret copied into its own buffer; the string's buffer was wiped
  // before the string gave it up (it still owns it: Secret copies).
  BOOST_TEST(longer.empty());
  BOOST_TEST(longer.data() == heap);
  BOOST_TEST(std::all_of(heap, heap + cap, [](char c) { return c == 0; }));
}

BOOST_AUTO_TEST_CASE(destruction_and_clear_wipe_the_whole_buffer) {
  Secret s("a long enough secret to know where it was: 0123456789");
  const char* p = s.Reveal().data();
  std::size_t cap = s.Reveal().capacity();
  s.Clear();  // the destructor runs the same wipe, then frees the buffer
  BOOST_TEST(s.Reveal().data() == p);
  BOOST_TEST(std::all_of(p, p + cap, [](char c) { return c == 0; }));

  alignas(Secret) unsigned char storage[sizeof(Secret)];
  Secret* d = new (storage) Secret("pw-Q7x");
  d->~Secret();
  BOOST_TEST(!Holds(storage, sizeof storage, kShort));
}

// (The buffer Append outgrows is freed right after its wipe, so it cannot
// be inspected here; the wipe is the same WipeString the other paths use.)
BOOST_AUTO_TEST_CASE(append_keeps_bytes_out_of_the_object) {
  Secret s("0123456789abcdef0123456789abcde");  // 31 bytes
  s += "and more bytes than fit";
  BOOST_TEST(s.Reveal() == "0123456789abcdef0123456789abcdeand more bytes than fit");
  BOOST_TEST(!Holds(&s, sizeof s, "0123456"));
  Secret e;
  e += "pw-Q7x";
  BOOST_TEST(e.Reveal() == kShort);
  BOOST_TEST(!Holds(&e, sizeof e, kShort));
}

BOOST_AUTO_TEST_CASE(clone_is_independent) {
  Secret a("tok-1");
  Secret b = a.Clone();
  a.Clear();
  BOOST_TEST(b.Reveal() == "tok-1");
}

BOOST_AUTO_TEST_SUITE_END()
