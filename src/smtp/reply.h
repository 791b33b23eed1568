// SMTP replies (RFC 5321 §4.2): assembled line by line, bounded, sanitised.
//
// ReplyParser takes one line at a time (CRLF already stripped, already cut
// to the line limit by the transport). It rejects lines that are not
// "NNN", "NNN text" or "NNN-text", continuation lines whose code differs
// from the first line's, and replies of more than kMaxLines lines. Stored
// text is sanitised (non-printables become '?') and capped in total.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace authrelay {

struct Reply {
  int code = 0;                    // 220, 250, 535, ...
  std::vector<std::string> lines;  // sanitised, each with its code ("250-SIZE 1000")
  std::string dsn;                 // enhanced status per smtp(8): last line's, else X.0.0

  int cls() const { return code / 100; }
  // The lines joined with single spaces, as smtp(8) quotes a reply.
  std::string Text() const;
};

class ReplyParser {
 public:
  static constexpr std::size_t kMaxLines = 1000;
  static constexpr std::size_t kMaxStoredBytes = 8192;

  enum class State { kMore, kDone, kError };
  State Feed(std::string_view line);
  // After kDone: the reply; the parser is then ready for the next one.
  Reply Take();
  // After kError: what was wrong (sanitised).
  const std::string& error() const { return error_; }

 private:
  Reply current_;
  std::size_t stored_ = 0;
  std::size_t count_ = 0;
  std::string error_;
};

// Extracts an RFC 3463 code ("5.7.8") at the start of text if its class
// digit equals reply_class; else returns "". Follows Postfix's dsn_valid():
// [245].\d{1,3}.\d{1,3} then end or whitespace.
std::string EnhancedCodeAt(std::string_view text, int reply_class);

// True if text starts with a valid D.S.N followed by end or whitespace.
bool IsValidDsn(std::string_view text);

}  // namespace authrelay
