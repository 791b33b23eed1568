// SecretScrubber: removes from untrusted server text every byte sequence we
// sent the server while authenticating, before that text is logged, printed
// or quoted in a bounce. A hostile or careless server that echoes our AUTH
// command ("535 bad: you sent AUTH PLAIN AGFsaWNl...") must not make us
// publish it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/secret.h"

namespace authrelay {

class SecretScrubber {
 public:
  static constexpr std::string_view kMark = "[redacted]";

  // Remembers `secret` in every form the server could echo: the raw bytes,
  // the same with control bytes shown as '?' (as sanitised text shows
  // them), and its base64 as it appears inside the base64 of any longer
  // blob, at each of the three byte alignments. Secrets and forms shorter
  // than kMinLength are not kept: they would match ordinary words by chance.
  // pieces: the secret holds nothing a server may rightly say back (a
  // password, a token; not a blob with the user name in it), so any
  // kPieceLength bytes of it in a row are cut too, wherever they are.
  void Add(std::string_view secret, bool pieces);
  // Adds a SASL response we sent, and the secret inside it: PLAIN's
  // password field, an OAuth bearer token. `username` alone is not kept.
  void AddSaslResponse(std::string_view response, std::string_view username);

  // text with every known form replaced by kMark, found in any letter case
  // and percent-encoded too; a tail of text that is the start of a form (a
  // line cut in the middle of an echo) goes, and so does a head (after the
  // reply code and enhanced status code) that is the end of one (the rest
  // of an echo the server split over two lines of a reply). Of a password
  // or token, any kPieceLength bytes in a row go (the middle of an echo
  // split over three lines, or one the server cut at both ends).
  std::string Scrub(std::string_view text) const;
  // Scrub() without the shortcut for lines that cannot hold a form: the
  // tests hold the two equal.
  std::string ScrubEverywhere(std::string_view text) const;
  bool empty() const { return forms_.empty(); }

  static constexpr std::size_t kMinLength = 4;
  static constexpr std::size_t kPieceLength = 8;

 private:
  struct Form {
    Secret text;
    bool pieces = false;  // any kPieceLength bytes in a row are cut too
  };
  void AddForm(std::string form, bool pieces);
  // Whether text could hold any piece Scrub() cuts. Without '%' or '+' in
  // text, every cut is at least kMinLength bytes of a form matched byte for
  // byte (letter case aside), and it is a whole form, a form's start (a
  // line's tail), a form's end (a line's head), or kPieceLength bytes of a
  // pieces form: so text holds the first or the last kGram bytes of some
  // form, or any kGram bytes of a pieces form. Most server lines hold none,
  // and skip the search (~1,000 instructions instead of ~30,000 per line).
  bool MayHoldForm(std::string_view text) const;
  static constexpr std::size_t kGram = 4;
  static_assert(kMinLength >= kGram && kPieceLength >= kGram, "a cut must span a whole window");
  std::vector<Form> forms_;  // longest first
  // The forms' first and last kGram bytes (every kGram bytes of a pieces
  // form), letter case folded, as sorted
  // 4-byte records; a Secret, since they are pieces of the secrets. Made by
  // the first Scrub() after an Add (a session adds a dozen forms, then
  // scrubs every reply line).
  mutable Secret grams_;
  mutable bool grams_stale_ = false;
};

}  // namespace authrelay
