// The DATA encoder: whatever the message bytes and chunking, the output has
// no bare CR or LF, no line over the limit (+1 for the continuation space
// and +1 for a stuffed dot), and ends with the only lone "." line.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/data_encoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::size_t limit = data[0] % 4 == 0 ? 0 : 20 + data[0];
  std::size_t chunk = 1 + data[1];
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  authrelay::DataEncoder enc(limit);
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += chunk) enc.Encode(in.substr(i, chunk), out);
  enc.Finish(out);
  if (out.size() < 3 || out.compare(out.size() - 3, 3, ".\r\n") != 0) abort();
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r' && (i + 1 >= out.size() || out[i + 1] != '\n')) abort();
    if (out[i] == '\n') {
      if (i == 0 || out[i - 1] != '\r') abort();
      std::size_t len = i - 1 - line_start;
      if (limit && len > limit + 1) abort();
      bool last = i + 1 == out.size();
      if (len == 1 && out[line_start] == '.' && !last) abort();  // a lone dot would end the message
      line_start = i + 1;
    }
  }
  return 0;
}
