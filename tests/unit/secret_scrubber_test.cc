// SecretScrubber: every form of a secret we sent is removed from server
// text, including its base64 inside a longer blob at any alignment.
#include "smtp/secret_scrubber.h"

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdint>
#include <vector>

#include "core/base64.h"

using namespace authrelay;

BOOST_AUTO_TEST_SUITE(secret_scrubber)

BOOST_AUTO_TEST_CASE(raw_printable_and_base64_at_every_alignment) {
  const std::string pw = "Tr0ub4dor&3-horse";
  SecretScrubber s;
  s.Add(pw, false);
  BOOST_TEST(s.Scrub("535 you said " + pw + " ok") == "535 you said [redacted] ok");
  for (std::string before : {"", "a", "ab", "abc", "\x01\x02"}) {
    for (std::string after : {"", "z", "zz", "zzz"}) {
      std::string enc = Base64Encode(before + pw + after);
      std::string out = s.Scrub("535 " + enc);
      BOOST_TEST_CONTEXT("prefix " << before.size() << " suffix " << after.size() << ": " << out) {
        BOOST_TEST(out.find("[redacted]") != std::string::npos);
        // What is left of the encoding around the mark is at most the
        // characters that mix in the bytes around the secret.
        BOOST_TEST(out.size() <= 4 + 10 + 10);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(sasl_fields_control_bytes_and_cut_tail) {
  SecretScrubber s;
  std::string plain = std::string(1, '\0') + "alice" + '\0' + "hunter2hunter2";
  s.AddSaslResponse(plain, "alice");
  s.AddSaslResponse("user=alice\x01" "auth=Bearer ya29.AbCdEfGhIjKl\x01\x01", "alice");
  BOOST_TEST(s.Scrub("?alice?hunter2hunter2") == "[redacted]");           // sanitised echo of the blob
  BOOST_TEST(s.Scrub("bad password hunter2hunter2") == "bad password [redacted]");
  BOOST_TEST(s.Scrub("token ya29.AbCdEfGhIjKl expired") == "token [redacted] expired");
  s.AddSaslResponse("alice", "alice");                                       // AUTH LOGIN's first answer
  BOOST_TEST(s.Scrub("user alice unknown") == "user alice unknown");        // the user name is not a secret
  BOOST_TEST(s.Scrub("line cut in hunter2hun") == "line cut in [redacted]");  // cut in the middle of an echo
}

// Found by the e2e relay test: DIGEST-MD5's response fields ("qop=auth",
// the realm, the nonce) are not secrets; kept as such they scrubbed the
// server's next challenge (base64 "rspauth=...") into garbage.
BOOST_AUTO_TEST_CASE(non_secret_sasl_fields_are_not_kept) {
  SecretScrubber s;
  s.AddSaslResponse("username=\"alice\",realm=\"smarthost.test\",nonce=\"q3Xz\",nc=00000001,qop=auth,"
                    "digest-uri=\"smtp/smarthost.test\",response=0123456789abcdef0123456789abcdef",
                    "alice");
  s.AddSaslResponse("n,a=alice,\x01host=smtp.example.com\x01port=587\x01" "auth=Bearer tok-Abc123xyz\x01\x01", "alice");
  std::string challenge = "334 " + Base64Encode("rspauth=ea40f60335c427b5527b84dbabcdfffd");
  BOOST_TEST(s.Scrub(challenge) == challenge);
  BOOST_TEST(s.Scrub("250 smtp.example.com at your service, auth ok") == "250 smtp.example.com at your service, auth ok");
  BOOST_TEST(s.Scrub("535 tok-Abc123xyz expired") == "535 [redacted] expired");
}

BOOST_AUTO_TEST_CASE(short_forms_are_not_kept) {
  SecretScrubber s;
  s.Add("abc", true);
  BOOST_TEST(s.empty());
  BOOST_TEST(s.Scrub("abcabc") == "abcabc");
}

// A server that quotes what we sent in another letter case, percent-encoded
// (a URL in a 535 reply), or split over two lines of a reply.
BOOST_AUTO_TEST_CASE(case_changed_percent_encoded_and_split_echoes) {
  SecretScrubber s;
  s.AddSaslResponse(std::string(1, '\0') + "alice" + '\0' + "Correct Horse9", "alice");
  BOOST_TEST(s.Scrub("535 5.7.8 bad password CORRECT HORSE9") == "535 5.7.8 bad password [redacted]");
  BOOST_TEST(s.Scrub("535 5.7.8 see https://x.test/?p=Correct%20Horse9 now") ==
             "535 5.7.8 see https://x.test/?p=[redacted] now");
  BOOST_TEST(s.Scrub("535 5.7.8 see ?p=%43orrect+%68%6f%72se9") == "535 5.7.8 see ?p=[redacted]");
  const std::string b64 = Base64Encode(std::string(1, '\0') + "alice" + '\0' + "Correct Horse9");
  std::string upper = b64;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_TEST(s.Scrub("535 you sent " + upper) == "535 you sent [redacted]");
  // Split over continuation lines, with and without an enhanced status code.
  for (std::size_t cut = 1; cut < b64.size(); ++cut) {
    std::string first = s.Scrub("535-5.7.8 you sent AUTH PLAIN " + b64.substr(0, cut));
    std::string second = s.Scrub("535 5.7.8 " + b64.substr(cut));
    std::string bare = s.Scrub("535 " + b64.substr(cut));
    std::string blanks = s.Scrub("535-5.7.8 \t  " + b64.substr(cut));
    BOOST_TEST(blanks.size() <= std::string("535-5.7.8 \t  [redacted]").size(), blanks);
    BOOST_TEST_CONTEXT("cut at " << cut << ": " << first << " / " << second << " / " << bare) {
      // At most kMinLength - 1 characters of the blob are left on a line.
      BOOST_TEST(first.size() <= std::string("535-5.7.8 you sent AUTH PLAIN [redacted]").size());
      BOOST_TEST(second.size() <= std::string("535 5.7.8 [redacted]").size());
      BOOST_TEST(bare.size() <= std::string("535 [redacted]").size());
    }
  }
  BOOST_TEST(s.Scrub("535 Horse is not a password") == "535 Horse is not a password");  // not the end of a form
}

// Of a password or token, any 8 bytes in a row go, wherever they are: the
// middle line of an echo split over three, an echo the server cut at both
// ends. A blob with the user name in it is cut only whole or at its ends,
// so the server may still name the user.
BOOST_AUTO_TEST_CASE(pieces_of_a_password_or_token_anywhere) {
  SecretScrubber s;
  s.AddSaslResponse(std::string(1, '\0') + "alice@example.org" + '\0' + "correct-horse-battery-staple",
                    "alice@example.org");
  s.AddSaslResponse("user=alice@example.org\x01" "auth=Bearer ya29.AbCdEfGhIjKlMnOp\x01\x01", "alice@example.org");
  BOOST_TEST(s.Scrub("535-5.7.8 se-battery-s") == "535-5.7.8 [redacted]");
  BOOST_TEST(s.Scrub("535 5.7.8 Authentication failed for orrect-horse-battery-stapl (bad)") ==
             "535 5.7.8 Authentication failed for [redacted] (bad)");
  BOOST_TEST(s.Scrub("535 5.7.8 ORRECT-HORSE-BATTERY-STAPL") == "535 5.7.8 [redacted]");
  BOOST_TEST(s.Scrub("535 5.7.8 token AbCdEfGhIjKlMn expired") == "535 5.7.8 token [redacted] expired");
  const std::string b64 = Base64Encode(std::string(1, '\0') + "alice@example.org" + '\0' + "correct-horse-battery-staple");
  BOOST_TEST(s.Scrub("535 you sent ..." + b64.substr(30, 12) + "...") == "535 you sent ...[redacted]...");
  // The user name is no secret; nor are 7 bytes of the password in a row.
  BOOST_TEST(s.Scrub("535 5.7.8 Authentication failed for alice@example.org") ==
             "535 5.7.8 Authentication failed for alice@example.org");
  BOOST_TEST(s.Scrub("535 5.7.8 user=alice@example.org refused") == "535 5.7.8 user=alice@example.org refused");
  BOOST_TEST(s.Scrub("535 5.7.8 the battery is flat") == "535 5.7.8 the battery is flat");
  // A form first kept whole-or-ends only, scrubbed with, then sent again as
  // a password (a retry under another user name): its pieces go from then on.
  SecretScrubber again;
  again.AddSaslResponse("alice-Secr3tPassw0rd", "alice");
  BOOST_TEST(again.Scrub("250 ok") == "250 ok");
  again.AddSaslResponse("alice-Secr3tPassw0rd", "bob");
  BOOST_TEST(again.Scrub("535 5.7.8 you sent Secr3tPassw0 ok") == "535 5.7.8 you sent [redacted] ok");
}

// Scrub() skips lines that share no 4-byte window (letter case folded) with
// any form; that must never change what is cut. Lines made of random
// pieces of the forms (cut anywhere, case flipped), of the reply codes that
// anchor a split echo, of '%', '+' and noise: the shortcut and the full
// search agree on all of them, and most of the lines do hold a piece.
BOOST_AUTO_TEST_CASE(shortcut_never_changes_the_result) {
  SecretScrubber s;
  const std::string plain = std::string(1, '\0') + "alice" + '\0' + "Correct Horse9";
  s.AddSaslResponse(plain, "alice");
  s.AddSaslResponse("user=alice\x01" "auth=Bearer ya29.AbCdEfGhIjKl\x01\x01", "alice");
  const std::vector<std::string> sources = {plain, Base64Encode(plain), Base64Encode("x" + plain),
                                            "ya29.AbCdEfGhIjKl", "Correct Horse9"};
  const std::vector<std::string> noise = {"535 ", "535-5.7.8 ", "334 ", " ", "%", "+", "%43", "zz", "\t", "AUTH "};
  std::uint32_t seed = 20261130;
  auto next = [&](std::uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  int cut = 0;
  for (int line = 0; line < 20000; ++line) {
    std::string text;
    for (std::uint32_t part = 0, parts = 1 + next(4); part < parts; ++part) {
      if (next(2) == 0) {
        text += noise[next(noise.size())];
        continue;
      }
      const std::string& src = sources[next(sources.size())];
      std::size_t from = next(src.size());
      std::string piece = src.substr(from, 1 + next(src.size() - from));
      if (next(3) == 0) {
        for (char& c : piece) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      if (next(3) == 0) std::replace(piece.begin(), piece.end(), ' ', '+');  // a form field
      if (next(3) == 0) {  // one byte percent-encoded, as in a URL
        std::size_t at = next(piece.size());
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(piece[at]));
        piece.replace(at, 1, hex);
      }
      text += piece;
    }
    const std::string fast = s.Scrub(text);
    const std::string full = s.ScrubEverywhere(text);
    BOOST_TEST(fast == full, "line " << line << ": " << text);
    if (full != text) ++cut;
  }
  // A short secret whose every 4-byte window holds a space: sent back as a
  // form field ('+') or percent-encoded, no window of it is left in the
  // line, and only the '%' / '+' rule keeps the search.
  SecretScrubber spaced;
  spaced.Add("ab cd ef", true);
  for (std::string line : {"535 you sent ab+cd+ef", "535 you sent ab%20cd%20ef", "535 you sent AB+CD%20EF"}) {
    BOOST_TEST(spaced.ScrubEverywhere(line) == "535 you sent [redacted]", line);
    BOOST_TEST(spaced.Scrub(line) == "535 you sent [redacted]", line);
  }
  BOOST_TEST(cut > 2000);  // 3049 at this seed: the lines do exercise the cuts
  BOOST_TEST_MESSAGE(cut << " of 20000 lines had something cut");
}

BOOST_AUTO_TEST_SUITE_END()
