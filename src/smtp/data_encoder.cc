#include "smtp/data_encoder.h"

namespace authrelay {

void DataEncoder::Encode(std::string_view input, std::string& out) {
  out.reserve(out.size() + input.size() + input.size() / 32 + 8);
  for (char c : input) {
    if (c == '\n') {
      if (!after_cr_) EndLine(out);
      after_cr_ = false;
      continue;
    }
    if (c == '\r') {
      EndLine(out);
      after_cr_ = true;
      continue;
    }
    after_cr_ = false;
    ++line_bytes_;
    if (static_cast<unsigned char>(c) & 0x80) saw_8bit_ = true;
    if (limit_ > 0 && column_ >= limit_) {
      // smtp(8): break the line, continue it after a space.
      out += "\r\n ";
      column_ = 1;
    }
    if (column_ == 0 && c == '.') out.push_back('.');
    out.push_back(c);
    ++column_;
  }
}

void DataEncoder::EndLine(std::string& out) {
  // The line filled its last output line exactly where one of smtp(8)'s
  // records ended: smtp(8) has already written the continuation SPACE.
  if (limit_ > 0 && column_ == limit_ && line_bytes_ > 0 && line_bytes_ % kRecordBytes == 0) out += "\r\n ";
  out += "\r\n";
  column_ = 0;
  line_bytes_ = 0;
}

void DataEncoder::Finish(std::string& out) {
  if (column_ > 0) EndLine(out);
  out += ".\r\n";
  column_ = 0;
  after_cr_ = false;
}

}  // namespace authrelay
