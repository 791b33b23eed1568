#include "smtp/secret_scrubber.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/base64.h"

namespace authrelay {
namespace {

char Fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = Fold(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// text[at..at+4) with letter case folded, as one number.
std::uint32_t FoldedGram(std::string_view text, std::size_t at) {
  std::uint32_t g = 0;
  for (std::size_t i = 0; i < 4; ++i) g = (g << 8) | static_cast<unsigned char>(Fold(text[at + i]));
  return g;
}

struct Run {
  std::size_t text_end;  // one past the last text byte matched
  std::size_t matched;   // form bytes matched
};

// How far form[k..] matches text[pos..]. A server that quotes what we sent
// may change its letter case or percent-encode it (a URL, a form field), so
// each form byte matches itself in either case, "%XX" (either hex case) of
// itself, or '+' for a space.
Run MatchAt(std::string_view text, std::size_t pos, std::string_view form, std::size_t k) {
  std::size_t i = pos;
  std::size_t j = k;
  while (j < form.size() && i < text.size()) {
    char f = form[j];
    char t = text[i];
    if (Fold(t) == Fold(f) || (t == '+' && f == ' ')) {
      ++i;
    } else if (t == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0 &&
               Fold(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]))) == Fold(f)) {
      i += 3;
    } else {
      break;
    }
    ++j;
  }
  return {i, j - k};
}

// Where the text of a server line starts: after "NNN-" or "NNN " and an
// enhanced status code (and any blanks after them), where the next part
// of a split echo would begin.
std::vector<std::size_t> HeadPositions(std::string_view text) {
  std::vector<std::size_t> heads{0};
  auto digit = [&](std::size_t i) { return i < text.size() && text[i] >= '0' && text[i] <= '9'; };
  if (!(digit(0) && digit(1) && digit(2) && text.size() > 3 && (text[3] == ' ' || text[3] == '-'))) return heads;
  auto past_blanks = [&](std::size_t i) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    return i;
  };
  heads.push_back(past_blanks(4));
  std::size_t sp = text.find(' ', 4);
  if (digit(4) && text.size() > 5 && text[5] == '.' && sp != std::string_view::npos) heads.push_back(past_blanks(sp + 1));
  return heads;
}

}  // namespace


void SecretScrubber::AddForm(std::string form, bool pieces) {
  if (form.size() < kMinLength) {
    WipeBytes(form.data(), form.size());
    return;
  }
  for (Form& f : forms_) {
    if (f.text.Reveal() == form) {
      if (pieces && !f.pieces) {
        f.pieces = true;
        grams_stale_ = true;  // its every window joins the shortcut's table
      }
      WipeBytes(form.data(), form.size());
      return;
    }
  }
  forms_.push_back(Form{Secret(std::move(form)), pieces});
  std::stable_sort(forms_.begin(), forms_.end(),
                   [](const Form& a, const Form& b) { return a.text.size() > b.text.size(); });
  grams_stale_ = true;
}

bool SecretScrubber::MayHoldForm(std::string_view text) const {
  if (forms_.empty()) return false;
  if (text.find_first_of("%+") != std::string_view::npos) return true;
  if (grams_stale_) {
    std::size_t total = 0;  // reserved at once: no unwiped buffer left by growth
    for (const Form& f : forms_) total += f.pieces ? f.text.size() - kGram + 1 : 2;
    std::vector<std::uint32_t> grams;
    grams.reserve(total);
    for (const Form& f : forms_) {
      std::string_view form = f.text.Reveal();
      if (f.pieces) {
        for (std::size_t at = 0; at + kGram <= form.size(); ++at) grams.push_back(FoldedGram(form, at));
      } else {
        grams.push_back(FoldedGram(form, 0));
        grams.push_back(FoldedGram(form, form.size() - kGram));
      }
    }
    std::sort(grams.begin(), grams.end());
    grams.erase(std::unique(grams.begin(), grams.end()), grams.end());
    grams_ = Secret(std::string_view(reinterpret_cast<const char*>(grams.data()), grams.size() * sizeof grams[0]));
    WipeBytes(grams.data(), grams.capacity() * sizeof grams[0]);
    grams_stale_ = false;
  }
  const std::string_view records = grams_.Reveal();
  const std::size_t count = records.size() / sizeof(std::uint32_t);
  auto record = [&](std::size_t i) {
    std::uint32_t g;
    std::memcpy(&g, records.data() + i * sizeof g, sizeof g);
    return g;
  };
  for (std::size_t at = 0; at + kGram <= text.size(); ++at) {
    const std::uint32_t g = FoldedGram(text, at);
    std::size_t lo = 0, hi = count;  // binary search in the sorted records
    while (lo < hi) {
      std::size_t mid = lo + (hi - lo) / 2;
      if (record(mid) < g) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo < count && record(lo) == g) return true;
  }
  return false;
}

void SecretScrubber::Add(std::string_view secret, bool pieces) {
  if (secret.size() < kMinLength) return;
  AddForm(std::string(secret), pieces);
  std::string shown(secret);
  for (char& c : shown) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  AddForm(std::move(shown), pieces);
  // Inside a longer blob the secret starts 0, 1 or 2 bytes into a base64
  // group. Only the characters made of its bits alone are fixed: the first
  // ceil(8k/6) carry bits of the bytes before it, the one after the last
  // full character carries bits of the bytes after it.
  for (std::size_t k = 0; k < 3; ++k) {
    std::string padded(k, '\0');
    padded.append(secret);
    Secret encoded(Base64Encode(padded));
    WipeBytes(padded.data(), padded.size());
    std::size_t first = (8 * k + 5) / 6;
    std::size_t end = 8 * (k + secret.size()) / 6;  // one past the last full character
    if (end > first) AddForm(encoded.Reveal().substr(first, end - first), pieces);
  }
}

void SecretScrubber::AddSaslResponse(std::string_view response, std::string_view username) {
  if (response == username) return;  // AUTH LOGIN's first answer: not a secret
  // A response with the user name in it (PLAIN's blob, XOAUTH2's) is cut
  // only whole or at its ends: a server may name the user.
  Add(response, !username.empty() && response.find(username) == std::string_view::npos);
  // PLAIN is "authzid NUL user NUL password": the password alone too.
  if (response.find('\0') != std::string_view::npos) {
    std::size_t start = 0;
    for (std::size_t i = 0; i <= response.size(); ++i) {
      if (i < response.size() && response[i] != '\0') continue;
      std::string_view field = response.substr(start, i - start);
      start = i + 1;
      if (field != username) Add(field, true);
    }
  }
  // XOAUTH2 and OAUTHBEARER carry "auth=Bearer TOKEN" between ^A bytes.
  // Other fields (host, port, DIGEST-MD5's realm and nonce) are not secret
  // and are not kept: they would scrub the server's own challenges.
  constexpr std::string_view kBearer = "auth=Bearer ";
  if (auto at = response.find(kBearer); at != std::string_view::npos) {
    std::string_view token = response.substr(at + kBearer.size());
    Add(token.substr(0, token.find('\x01')), true);
  }
}

std::string SecretScrubber::Scrub(std::string_view text) const {
  if (!MayHoldForm(text)) return std::string(text);
  return ScrubEverywhere(text);
}

std::string SecretScrubber::ScrubEverywhere(std::string_view text) const {
  std::string out(text);
  auto redact = [&](std::size_t from, std::size_t to) {
    WipeBytes(out.data() + from, to - from);
    out.replace(from, to - from, kMark);
  };
  // A server may split an echo over the lines of a reply, or a line be cut
  // at our length limit: a line may begin (after its reply code and
  // enhanced status code) with the end of a form, and end with the start
  // of one. Both pieces go; they are looked for first, before a whole form
  // inside a piece (the password inside the PLAIN blob) is cut out of it.
  std::vector<std::size_t> heads = HeadPositions(out);
  for (auto h = heads.rbegin(); h != heads.rend(); ++h) {  // the last first: a cut there moves no earlier head
    for (const Form& f : forms_) {
      const std::string& form = f.text.Reveal();
      bool cut = false;
      for (std::size_t k = 0; k + kMinLength <= form.size() && !cut; ++k) {  // k = 0: the whole form
        Run run = MatchAt(out, *h, form, k);
        if (run.matched >= kMinLength && k + run.matched == form.size()) {
          redact(*h, run.text_end);
          cut = true;
        }
      }
    }
  }
  for (const Form& f : forms_) {
    const std::string& form = f.text.Reveal();
    bool cut = false;
    for (std::size_t at = 0; at < out.size() && !cut; ++at) {
      Run run = MatchAt(out, at, form, 0);
      if (run.text_end == out.size() && run.matched >= kMinLength) {
        redact(at, run.text_end);
        cut = true;
      }
    }
  }
  // Then every whole form, wherever it is.
  for (const Form& f : forms_) {
    const std::string& form = f.text.Reveal();
    for (std::size_t at = 0; at < out.size();) {
      Run run = MatchAt(out, at, form, 0);
      if (run.matched == form.size()) {
        redact(at, run.text_end);
        at += kMark.size();
      } else {
        ++at;
      }
    }
  }
  // Last, of a password or token, any kPieceLength bytes in a row: the
  // longest run from each place in the line, from any place in the form.
  for (const Form& f : forms_) {
    if (!f.pieces) continue;
    const std::string& form = f.text.Reveal();
    for (std::size_t at = 0; at < out.size();) {
      Run longest{at, 0};
      for (std::size_t k = 0; k + kPieceLength <= form.size(); ++k) {
        Run run = MatchAt(out, at, form, k);
        if (run.matched > longest.matched) longest = run;
      }
      if (longest.matched >= kPieceLength) {
        redact(at, longest.text_end);
        at += kMark.size();
      } else {
        ++at;
      }
    }
  }
  return out;
}

}  // namespace authrelay
