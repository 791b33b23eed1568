#include "smtp/mime_downgrade.h"

#include <algorithm>
#include <cstring>

namespace authrelay {
namespace {

bool IsSpaceTab(char c) { return c == ' ' || c == '\t'; }
bool IsLwsp(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsControl(unsigned char c) { return c < 32 || c == 127; }

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// The length of the header name a line starts with ("Name:" or the old
// "Name :"), or 0 when the line is not a header. A name is printable ASCII
// without space or colon.
std::size_t HeaderNameLength(std::string_view line) {
  std::size_t name = 0;
  bool after_space = false;
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ':') return name;
    if (IsSpaceTab(ch)) {
      if (name == 0) return 0;
      after_space = true;
      continue;
    }
    if (c == 0 || c >= 128 || IsControl(c) || after_space) return 0;
    ++name;
  }
  return 0;
}

// A header value cut into RFC 822 tokens: white space and (comments) are
// skipped, "quoted strings" are unquoted, each special or control character
// is a token of its own, and runs of other bytes are words.
struct Token {
  enum Kind { kWord, kQuoted, kSpecial } kind;
  std::string value;
};

class Tokenizer {
 public:
  Tokenizer(std::string_view value, const char* specials) : in_(value), specials_(specials) {
    // The value is read as C text: it ends at a NUL.
    if (auto nul = in_.find('\0'); nul != std::string_view::npos) in_ = in_.substr(0, nul);
  }

  // Reads up to max_tokens tokens. With a terminator, reads on to just past
  // it (ignoring tokens beyond max_tokens). Returns false when the value
  // was exhausted before any token.
  bool Next(std::vector<Token>& tokens, std::size_t max_tokens, char terminator) {
    tokens.clear();
    bool hit_terminator = false;
    while (pos_ < in_.size() && (terminator != 0 || tokens.size() < max_tokens)) {
      char ch = in_[pos_++];
      if (IsLwsp(ch)) continue;
      if (terminator != 0 && ch == terminator) {
        hit_terminator = true;
        break;
      }
      bool keep = tokens.size() < max_tokens;
      if (ch == '(') {
        SkipComment();
      } else if (ch == '"') {
        std::string text = QuotedString();
        if (keep) tokens.push_back({Token::kQuoted, std::move(text)});
      } else if (std::strchr(specials_, ch) != nullptr || IsControl(static_cast<unsigned char>(ch))) {
        if (keep) tokens.push_back({Token::kSpecial, std::string(1, ch)});
      } else {
        std::size_t start = pos_ - 1;
        while (pos_ < in_.size() && !IsLwsp(in_[pos_]) && !IsControl(static_cast<unsigned char>(in_[pos_])) &&
               std::strchr(specials_, in_[pos_]) == nullptr) {
          ++pos_;
        }
        if (keep) tokens.push_back({Token::kWord, std::string(in_.substr(start, pos_ - start))});
      }
    }
    return !(tokens.empty() && !hit_terminator && pos_ >= in_.size());
  }

 private:
  void SkipComment() {
    int depth = 1;
    while (pos_ < in_.size()) {
      char ch = in_[pos_++];
      if (ch == '(') {
        ++depth;
      } else if (ch == ')') {
        if (--depth == 0) return;
      } else if (ch == '\\') {
        if (pos_ >= in_.size()) return;
        ++pos_;
      }
    }
  }

  std::string QuotedString() {
    std::string text;
    while (pos_ < in_.size()) {
      char ch = in_[pos_++];
      if (ch == '"') break;
      if (ch == '\n') {  // a folded line: the white space before the fold goes
        while (!text.empty() && IsLwsp(text.back())) text.pop_back();
        continue;
      }
      if (ch == '\\') {
        if (pos_ >= in_.size()) break;
        ch = in_[pos_++];
      }
      text.push_back(ch);
    }
    return text;
  }

  std::string_view in_;
  const char* specials_;
  std::size_t pos_ = 0;
};

constexpr const char* kRfc822Specials = "()<>@,;:\\\".[]";
constexpr const char* kRfc2045Specials = "()<>@,;:\\\"/[]?=";

bool IsWord(const Token& t, std::string_view text) {
  return t.kind == Token::kWord && EqualsIgnoreCase(t.value, text);
}

constexpr char kHex[] = "0123456789ABCDEF";

}  // namespace

void MimeDowngrader::Feed(std::string_view input, std::string& out) {
  std::size_t i = 0;
  while (i < input.size()) {
    if (after_cr_) {
      after_cr_ = false;
      if (input[i] == '\n') {  // CRLF: one line end
        ++i;
        Piece(line_, false, out);
        line_.clear();
        continue;
      }
      // A CR that does not end a line is data.
      if (line_.size() == kPieceBytes) {
        Piece(line_, true, out);
        line_.clear();
      }
      line_.push_back('\r');
    }
    std::size_t end = input.find_first_of("\r\n", i);
    std::size_t stop = end == std::string_view::npos ? input.size() : end;
    while (i < stop) {
      if (line_.size() == kPieceBytes) {
        Piece(line_, true, out);
        line_.clear();
      }
      std::size_t take = std::min(stop - i, kPieceBytes - line_.size());
      line_.append(input.substr(i, take));
      i += take;
    }
    if (end == std::string_view::npos) break;
    ++i;
    if (input[end] == '\r') {
      after_cr_ = true;
    } else {
      Piece(line_, false, out);
      line_.clear();
    }
  }
}

void MimeDowngrader::Finish(std::string& out) {
  if (after_cr_) {
    after_cr_ = false;
    if (line_.size() == kPieceBytes) {
      Piece(line_, true, out);
      line_.clear();
    }
    line_.push_back('\r');
  }
  // An unterminated last line is ended, as smtp(8) ends it.
  if (!line_.empty() || line_continues_) {
    Piece(line_, false, out);
    line_.clear();
  }
  EndOfInput(out);
}

void MimeDowngrader::Piece(std::string_view text, bool more_follows, std::string& out) {
  bool continued = line_continues_;
  line_continues_ = more_follows;
  if (state_ != State::kBody) {
    if (!header_.empty()) {
      if (continued) {  // the rest of a long header line
        if (header_.size() < options_.header_size_limit) header_.append(text);
        return;
      }
      if (!text.empty() && IsSpaceTab(text[0])) {  // a folded header line
        if (header_.size() < options_.header_size_limit) {
          header_.push_back('\n');
          header_.append(text);
        }
        return;
      }
      FlushHeader(out);
    }
    if (std::size_t name = HeaderNameLength(text); name > 0) {
      // "Name :" is written "Name:", as Postfix normalizes it.
      std::size_t colon = text.find(':', name);
      header_.assign(text.substr(0, name));
      header_.append(text.substr(colon));
      return;
    }
    EndHeaders(out);
    if (text.empty()) {
      if (type_ == Type::kMessage) {
        // message/rfc822 starts with headers of its own; other message/*
        // types are not looked into.
        if (subtype_ == Subtype::kRfc822) {
          Reset(State::kNested, Type::kText, Subtype::kPlain);
        } else {
          state_ = State::kBody;
        }
      } else if (type_ == Type::kMultipart) {
        Reset(State::kBody, Type::kOther, Subtype::kOther);  // the preamble
      } else {
        state_ = State::kBody;
      }
    } else {
      // Headers that end without an empty line: the message's own headers
      // get one; a part's do not (that could break a signature).
      if (state_ == State::kPrimary) out.push_back('\n');
      state_ = State::kBody;
    }
  }
  Body(text, continued, more_follows, out);
}

void MimeDowngrader::Body(std::string_view text, bool continued, bool more_follows, std::string& out) {
  if (!stack_.empty() && !continued && text.size() > 2 && text[0] == '-' && text[1] == '-') {
    std::string_view after_dashes = text.substr(2);
    for (std::size_t i = stack_.size(); i-- > 0;) {
      const std::string& boundary = stack_[i].text;
      if (after_dashes.substr(0, boundary.size()) != boundary) continue;
      stack_.resize(i + 1);  // a boundary of an outer part closes the inner ones
      Boundary b = stack_.back();
      if (after_dashes.substr(boundary.size(), 2) == "--") {
        stack_.pop_back();
        Reset(State::kBody, Type::kOther, Subtype::kOther);  // the epilogue
      } else {
        Reset(State::kMultipart, b.default_type, b.default_subtype);
      }
      break;
    }
  }
  if (Downgrading()) {
    QuotedPrintable(text, more_follows, out);
  } else {
    out.append(text);
    if (!more_follows) out.push_back('\n');
  }
}

void MimeDowngrader::QuotedPrintable(std::string_view text, bool more_follows, std::string& out) {
  for (char ch : text) {
    if (qp_.size() > 72) {  // soft line break
      out.append(qp_);
      out.append("=\n");
      qp_.clear();
    }
    auto c = static_cast<unsigned char>(ch);
    if ((c < 32 && c != '\t') || c == '=' || c > 126) {
      qp_.push_back('=');
      qp_.push_back(kHex[c >> 4]);
      qp_.push_back(kHex[c & 0xf]);
    } else {
      qp_.push_back(ch);
    }
  }
  if (more_follows) return;
  if (!qp_.empty() && IsSpaceTab(qp_.back())) {  // white space must not end a line
    auto c = static_cast<unsigned char>(qp_.back());
    qp_.back() = '=';
    qp_.push_back(kHex[c >> 4]);
    qp_.push_back(kHex[c & 0xf]);
  }
  out.append(qp_);
  out.push_back('\n');
  qp_.clear();
}

void MimeDowngrader::FlushHeader(std::string& out) {
  std::string_view header = header_;
  std::size_t colon = header.find(':');
  std::string_view name = header.substr(0, colon);
  std::string_view value = header.substr(colon + 1);
  bool is_encoding = EqualsIgnoreCase(name, "Content-Transfer-Encoding");
  if (EqualsIgnoreCase(name, "Content-Type")) ContentType(value);
  if (is_encoding) ContentTransferEncoding(value);
  // A Content-Transfer-Encoding that claims 8-bit is replaced at the end
  // of the headers (EndHeaders).
  if (!(is_encoding && Downgrading())) {
    out.append(header_);
    out.push_back('\n');
  }
  header_.clear();
}

void MimeDowngrader::EndHeaders(std::string& out) {
  if (!Downgrading()) return;
  // message/* and multipart/* must name a domain; their parts are
  // converted one by one. A leaf entity becomes quoted-printable.
  bool composite = type_ == Type::kMessage || type_ == Type::kMultipart;
  out.append(composite ? "Content-Transfer-Encoding: 7bit\n" : "Content-Transfer-Encoding: quoted-printable\n");
}

void MimeDowngrader::EndOfInput(std::string& out) {
  if (state_ == State::kBody) return;
  if (!header_.empty()) FlushHeader(out);
  EndHeaders(out);
  state_ = State::kBody;
}

void MimeDowngrader::ContentType(std::string_view value) {
  Tokenizer tokenizer(value, kRfc2045Specials);
  std::vector<Token> t;
  if (!tokenizer.Next(t, 3, ';') || t.empty()) {  // an empty Content-Type
    type_ = Type::kOther;
    return;
  }
  bool has_subtype = t.size() >= 3 && t[1].kind == Token::kSpecial && t[1].value == "/";
  if (IsWord(t[0], "text")) {
    type_ = Type::kText;
    subtype_ = has_subtype && IsWord(t[2], "plain") ? Subtype::kPlain : Subtype::kOther;
    return;
  }
  if (IsWord(t[0], "message")) {
    // message/global (internationalized mail) may carry any transfer
    // encoding, so smtp(8) treats it as a leaf: its body becomes
    // quoted-printable and is labelled so (never "7bit").
    if (has_subtype && IsWord(t[2], "global")) {
      type_ = Type::kOther;
      return;
    }
    type_ = Type::kMessage;
    subtype_ = Subtype::kOther;
    if (has_subtype) {
      if (IsWord(t[2], "rfc822")) subtype_ = Subtype::kRfc822;
      else if (IsWord(t[2], "partial")) subtype_ = Subtype::kPartial;
      else if (IsWord(t[2], "external-body")) subtype_ = Subtype::kExternalBody;
    }
    return;
  }
  if (IsWord(t[0], "multipart")) {
    type_ = Type::kMultipart;
    // multipart/digest parts are message/rfc822 unless they say otherwise.
    bool digest = has_subtype && IsWord(t[2], "digest");
    Type part_type = digest ? Type::kMessage : Type::kText;
    Subtype part_subtype = digest ? Subtype::kRfc822 : Subtype::kPlain;
    // Every boundary parameter counts, as in Postfix: a second one cannot
    // hide a part.
    while (tokenizer.Next(t, 3, ';')) {
      if (t.size() >= 3 && IsWord(t[0], "boundary") && t[1].kind == Token::kSpecial && t[1].value == "=") {
        // smtp(8) counts from one level below ours: with the limit at N it
        // sends N + 2 nested multiparts and refuses the (N + 3)rd (checked
        // against Postfix 3.7 at N = 3 and N = 100).
        if (stack_.size() > options_.nesting_limit + 1) {
          if (options_.output_conversion) nesting_exceeded_ = true;
        } else {
          std::string boundary = t[2].value.substr(0, options_.boundary_length_limit);
          stack_.push_back({part_type, part_subtype, std::move(boundary)});
        }
      }
    }
    return;
  }
  // Any other type (image/png, application/x) changes nothing, as in
  // Postfix: a part of multipart/digest so labelled stays message/rfc822.
}

void MimeDowngrader::ContentTransferEncoding(std::string_view value) {
  Tokenizer tokenizer(value, kRfc822Specials);
  std::vector<Token> t;
  if (!tokenizer.Next(t, 1, 0) || t.empty() || t[0].kind != Token::kWord) return;
  // base64 and quoted-printable are 7-bit already; an unknown name changes
  // nothing.
  if (IsWord(t[0], "7bit") || IsWord(t[0], "base64") || IsWord(t[0], "quoted-printable")) {
    domain_ = Domain::k7bit;
  } else if (IsWord(t[0], "8bit")) {
    domain_ = Domain::k8bit;
  } else if (IsWord(t[0], "binary")) {
    domain_ = Domain::kBinary;
  }
}

void MimeDowngrader::Reset(State state, Type type, Subtype subtype) {
  state_ = state;
  type_ = type;
  subtype_ = subtype;
  domain_ = Domain::k7bit;
}

BodyEncoder::BodyEncoder(std::size_t line_limit, const MimeOptions* downgrade) : encoder_(line_limit) {
  if (downgrade) downgrader_.emplace(*downgrade);
}

void BodyEncoder::Encode(std::string_view input, std::string& out) {
  if (!downgrader_) return encoder_.Encode(input, out);
  converted_.clear();
  downgrader_->Feed(input, converted_);
  encoder_.Encode(converted_, out);
}

void BodyEncoder::Finish(std::string& out) {
  if (downgrader_) {
    converted_.clear();
    downgrader_->Finish(converted_);
    encoder_.Encode(converted_, out);
  }
  encoder_.Finish(out);
}

}  // namespace authrelay
