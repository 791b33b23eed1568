// Server replies: any bytes, split into lines, never crash, stay bounded.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smtp/ehlo.h"
#include "smtp/reply.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  authrelay::ReplyParser parser;
  std::size_t start = 0;
  while (start <= in.size()) {
    std::size_t nl = in.find('\n', start);
    std::string_view line = in.substr(start, nl == std::string_view::npos ? in.npos : nl - start);
    auto st = parser.Feed(line);
    if (st == authrelay::ReplyParser::State::kDone) {
      authrelay::Reply r = parser.Take();
      if (r.code < 200 || r.code > 599 || r.dsn.empty() || (r.dsn[0] - '0') != r.cls()) abort();
      if (r.Text().size() > authrelay::ReplyParser::kMaxStoredBytes + 4096) abort();
      for (char c : r.Text()) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) abort();
      }
      authrelay::ParseEhlo(r);
    } else if (st == authrelay::ReplyParser::State::kError) {
      parser = authrelay::ReplyParser();
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return 0;
}
