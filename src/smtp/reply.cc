#include "smtp/reply.h"

#include <cctype>

#include "core/sanitize.h"

namespace authrelay {
namespace {

bool Digit(char c) { return c >= '0' && c <= '9'; }

// Length of a valid D.S.N prefix, or 0.
std::size_t DsnLength(std::string_view t) {
  if (t.size() < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.') return 0;
  std::size_t i = 2;
  std::size_t n = 0;
  while (i < t.size() && Digit(t[i]) && n < 4) ++i, ++n;
  if (n < 1 || n > 3 || i >= t.size() || t[i] != '.') return 0;
  ++i;
  n = 0;
  while (i < t.size() && Digit(t[i]) && n < 4) ++i, ++n;
  if (n < 1 || n > 3) return 0;
  if (i < t.size() && t[i] != ' ' && t[i] != '\t') return 0;
  return i;
}

}  // namespace

bool IsValidDsn(std::string_view text) { return DsnLength(text) > 0; }

std::string EnhancedCodeAt(std::string_view text, int reply_class) {
  std::size_t n = DsnLength(text);
  if (n == 0 || text[0] - '0' != reply_class) return {};
  return std::string(text.substr(0, n));
}

std::string Reply::Text() const {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += ' ';
    out += l;
  }
  return out;
}

ReplyParser::State ReplyParser::Feed(std::string_view line) {
  if (line.size() < 3 || !Digit(line[0]) || !Digit(line[1]) || !Digit(line[2]) ||
      (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    error_ = "malformed reply line: " + Printable(line, 100);
    return State::kError;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (code < 200 || code > 599) {
    error_ = "reply code out of range: " + Printable(line, 100);
    return State::kError;
  }
  if (count_ == 0) {
    current_.code = code;
  } else if (code != current_.code) {
    error_ = "mismatched reply codes " + std::to_string(current_.code) + " and " + std::to_string(code);
    return State::kError;
  }
  if (++count_ > kMaxLines) {
    error_ = "reply has more than " + std::to_string(kMaxLines) + " lines";
    return State::kError;
  }
  // Keep the first lines and the last one; drop the middle of huge replies
  // (Postfix: "defend against a denial of service attack").
  std::string clean = Printable(line, 1024);
  bool last = line.size() == 3 || line[3] == ' ';
  if (stored_ + clean.size() <= kMaxStoredBytes || last) {
    stored_ += clean.size();
    current_.lines.push_back(std::move(clean));
  }
  if (!last) return State::kMore;

  std::string_view text = std::string_view(current_.lines.back());
  text = text.size() > 4 ? text.substr(4) : std::string_view();
  current_.dsn = EnhancedCodeAt(text, current_.cls());
  if (current_.dsn.empty()) current_.dsn = std::to_string(current_.cls()) + ".0.0";
  return State::kDone;
}

Reply ReplyParser::Take() {
  Reply r = std::move(current_);
  current_ = Reply();
  stored_ = 0;
  count_ = 0;
  return r;
}

}  // namespace authrelay
