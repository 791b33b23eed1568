#include "smtp/data_encoder.h"

namespace authrelay {

void DataEncoder::Encode(std::string_view input, std::string& out) {
  out.reserve(out.size() + input.size() + input.size() / 32 + 8);
  for (char c : input) {
    if (c == '\n') {
      if (!after_cr_) out += "\r\n";
      after_cr_ = false;
      column_ = 0;
      continue;
    }
    if (c == '\r') {
      out += "\r\n";
      after_cr_ = true;
      column_ = 0;
      continue;
    }
    after_cr_ = false;
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

void DataEncoder::Finish(std::string& out) {
  if (column_ > 0) out += "\r\n";
  out += ".\r\n";
  column_ = 0;
  after_cr_ = false;
}

}  // namespace authrelay
