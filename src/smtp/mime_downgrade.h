// MIME 8-bit -> 7-bit downgrade for a server that does not offer 8BITMIME,
// the way Postfix's smtp(8) does it (docs/DESIGN.md, "8-bit mail to a
// 7-bit server"):
//
//  - Only an entity whose Content-Transfer-Encoding says 8bit or binary is
//    touched. A leaf entity's body becomes quoted-printable; a message/* or
//    multipart/* entity is relabelled 7bit and its parts are handled one by
//    one. The old Content-Transfer-Encoding header is dropped and the new
//    one is written as the last header of that entity.
//  - Anything that does not claim 8-bit (no header: 7bit by default; 7bit,
//    quoted-printable, base64) passes byte for byte, 8-bit bytes included,
//    and so do all headers. Mail without MIME headers is text/plain 7bit.
//  - Quoted-printable lines get a soft break ("=") once they pass 72
//    characters; '=', control characters but TAB, and bytes over 126 are
//    written =XX; a space or TAB that ends a line is written =20 / =09.
//
// Streaming: Feed() takes the message as pipe(8) hands it over (LF line
// ends; CRLF is read as one line end too), in any chunking, and appends
// LF-terminated text for DataEncoder (which does CRLF, dot-stuffing and the
// line length limit). Memory is bounded: a line is handled in pieces of at
// most kPieceBytes (as Postfix's queue file records are), a header is kept
// up to header_size_limit, and the multipart nesting is capped.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/data_encoder.h"

namespace authrelay {

// The main.cf parameters that steer the downgrade.
struct MimeOptions {
  bool output_conversion = true;                  // !disable_mime_output_conversion
  std::size_t nesting_limit = 100;                // mime_nesting_limit
  std::size_t boundary_length_limit = 2048;       // mime_boundary_length_limit
  std::size_t header_size_limit = 102400;         // header_size_limit
};

class MimeDowngrader {
 public:
  // Postfix's line_length_limit: the longest piece of a line handled at once.
  static constexpr std::size_t kPieceBytes = 2048;

  explicit MimeDowngrader(const MimeOptions& options) : options_(options) {}

  void Feed(std::string_view input, std::string& out);
  // Ends an unterminated last line and flushes what is held back.
  void Finish(std::string& out);
  // Set once the multipart nesting passed smtp(8)'s limit (more than
  // mime_nesting_limit + 2 levels, as it counts them): smtp(8) then
  // refuses the message for good (5.6.0) instead of sending it.
  bool nesting_exceeded() const { return nesting_exceeded_; }

 private:
  enum class State { kPrimary, kMultipart, kNested, kBody };
  enum class Type { kOther, kText, kMessage, kMultipart };
  enum class Subtype { kOther, kPlain, kRfc822, kPartial, kExternalBody };
  enum class Domain { k7bit, k8bit, kBinary };
  struct Boundary {
    Type default_type;
    Subtype default_subtype;
    std::string text;
  };

  // One piece of a line; more_follows: the same line continues.
  void Piece(std::string_view text, bool more_follows, std::string& out);
  void EndOfInput(std::string& out);
  void FlushHeader(std::string& out);
  void EndHeaders(std::string& out);
  void Body(std::string_view text, bool continued, bool more_follows, std::string& out);
  void QuotedPrintable(std::string_view text, bool more_follows, std::string& out);
  void ContentType(std::string_view value);
  void ContentTransferEncoding(std::string_view value);
  void Reset(State state, Type type, Subtype subtype);
  bool Downgrading() const { return options_.output_conversion && domain_ != Domain::k7bit; }

  MimeOptions options_;
  State state_ = State::kPrimary;
  Type type_ = Type::kText;
  Subtype subtype_ = Subtype::kPlain;
  Domain domain_ = Domain::k7bit;
  std::vector<Boundary> stack_;  // innermost last
  std::string header_;           // the header being collected, folded lines joined by '\n'
  std::string line_;             // input bytes of the current piece
  std::string qp_;               // the quoted-printable output line being built
  bool after_cr_ = false;        // the last input byte was a CR (maybe of a CRLF)
  bool line_continues_ = false;  // the last piece handled did not end its line
  bool nesting_exceeded_ = false;
};

// The DATA bytes of a message: the downgrade first when it applies, then
// DataEncoder. One object per message.
class BodyEncoder {
 public:
  // downgrade: the options to convert with, or null to send the bytes as
  // they are (the server offers 8BITMIME, or conversion is disabled).
  BodyEncoder(std::size_t line_limit, const MimeOptions* downgrade);
  void Encode(std::string_view input, std::string& out);
  void Finish(std::string& out);
  // The message cannot be sent converted: stop without the final dot.
  bool refused() const { return downgrader_ && downgrader_->nesting_exceeded(); }

 private:
  DataEncoder encoder_;
  std::optional<MimeDowngrader> downgrader_;
  std::string converted_;
};

}  // namespace authrelay
