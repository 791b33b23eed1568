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
  void Add(std::string_view secret);
  // Adds a SASL response we sent, and the secret inside it: PLAIN's
  // password field, an OAuth bearer token. `username` alone is not kept.
  void AddSaslResponse(std::string_view response, std::string_view username);

  // text with every known form replaced by kMark, found in any letter case
  // and percent-encoded too; a tail of text that is the start of a form (a
  // line cut in the middle of an echo) goes, and so does a head (after the
  // reply code and enhanced status code) that is the end of one (the rest
  // of an echo the server split over two lines of a reply).
  std::string Scrub(std::string_view text) const;
  bool empty() const { return forms_.empty(); }

  static constexpr std::size_t kMinLength = 4;

 private:
  void AddForm(std::string form);
  std::vector<Secret> forms_;  // longest first
};

}  // namespace authrelay
