#include "smtp/secret_scrubber.h"

#include <algorithm>

#include "core/base64.h"

namespace authrelay {

void SecretScrubber::AddForm(std::string form) {
  if (form.size() < kMinLength) {
    WipeBytes(form.data(), form.size());
    return;
  }
  for (const Secret& f : forms_) {
    if (f.Reveal() == form) {
      WipeBytes(form.data(), form.size());
      return;
    }
  }
  forms_.emplace_back(std::move(form));
  std::stable_sort(forms_.begin(), forms_.end(),
                   [](const Secret& a, const Secret& b) { return a.size() > b.size(); });
}

void SecretScrubber::Add(std::string_view secret) {
  if (secret.size() < kMinLength) return;
  AddForm(std::string(secret));
  std::string shown(secret);
  for (char& c : shown) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  AddForm(std::move(shown));
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
    if (end > first) AddForm(encoded.Reveal().substr(first, end - first));
  }
}

void SecretScrubber::AddSaslResponse(std::string_view response, std::string_view username) {
  if (response == username) return;  // AUTH LOGIN's first answer: not a secret
  Add(response);
  // PLAIN is "authzid NUL user NUL password": the password alone too.
  if (response.find('\0') != std::string_view::npos) {
    std::size_t start = 0;
    for (std::size_t i = 0; i <= response.size(); ++i) {
      if (i < response.size() && response[i] != '\0') continue;
      std::string_view field = response.substr(start, i - start);
      start = i + 1;
      if (field != username) Add(field);
    }
  }
  // XOAUTH2 and OAUTHBEARER carry "auth=Bearer TOKEN" between ^A bytes.
  // Other fields (host, port, DIGEST-MD5's realm and nonce) are not secret
  // and are not kept: they would scrub the server's own challenges.
  constexpr std::string_view kBearer = "auth=Bearer ";
  if (auto at = response.find(kBearer); at != std::string_view::npos) {
    std::string_view token = response.substr(at + kBearer.size());
    Add(token.substr(0, token.find('\x01')));
  }
}

std::string SecretScrubber::Scrub(std::string_view text) const {
  std::string out(text);
  for (const Secret& f : forms_) {
    const std::string& form = f.Reveal();
    for (std::size_t at = out.find(form); at != std::string::npos; at = out.find(form, at + kMark.size())) {
      WipeBytes(out.data() + at, form.size());
      out.replace(at, form.size(), kMark);
    }
  }
  // A line cut at our length limit may end inside an echo.
  for (const Secret& f : forms_) {
    const std::string& form = f.Reveal();
    for (std::size_t n = std::min(form.size() - 1, out.size()); n >= kMinLength; --n) {
      if (out.compare(out.size() - n, n, form, 0, n) == 0) {
        out.replace(out.size() - n, n, kMark);
        break;
      }
    }
  }
  return out;
}

}  // namespace authrelay
