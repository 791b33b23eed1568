// The DATA encoder: message bytes as pipe(8) hands them over (LF line ends,
// not dot-stuffed, any length, 8-bit) into SMTP DATA bytes.
//
//  - Every line end becomes CRLF. A bare CR also ends the line: we never
//    put a bare CR or LF on the wire (SMTP smuggling).
//  - Every line that starts with '.' gets another '.' (RFC 5321 §4.5.2).
//  - Lines longer than line_limit are broken as smtp(8) does with
//    smtp_line_length_limit: CRLF, then a SPACE starts the continuation.
//    0 means no limit.
//    smtp(8) reads a long line in queue-file records of 2048 bytes and
//    writes the SPACE as soon as a record ends exactly at the limit; when
//    that record is also the line's last, the line is followed by a line
//    holding just that SPACE. We send the same bytes.
//  - Finish() ends an unterminated last line and writes ".CRLF".
// Streaming: Encode() may be called with any chunking; state carries over.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace authrelay {

class DataEncoder {
 public:
  explicit DataEncoder(std::size_t line_limit = 998) : limit_(line_limit) {}
  // Appends the encoding of input to out.
  void Encode(std::string_view input, std::string& out);
  // Appends the end of the message (and a CRLF first if needed).
  void Finish(std::string& out);
  // True if any byte had the high bit set (8BITMIME bookkeeping).
  bool saw_8bit() const { return saw_8bit_; }

 private:
  // Postfix's line_length_limit: the queue-file record size smtp(8) reads.
  static constexpr std::size_t kRecordBytes = 2048;
  void EndLine(std::string& out);

  std::size_t limit_;
  std::size_t column_ = 0;      // content bytes on the current output line
  std::size_t line_bytes_ = 0;  // content bytes of the current input line
  bool after_cr_ = false;   // the last input byte was CR
  bool saw_8bit_ = false;
};

}  // namespace authrelay
