// EHLO capability lines from a hostile server.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "smtp/ehlo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  authrelay::Reply r;
  r.code = 250;
  r.lines.emplace_back("250-greeting");
  std::string cur = "250-";
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      r.lines.push_back(cur);
      cur = "250-";
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  r.lines.push_back(cur);
  authrelay::Capabilities c = authrelay::ParseEhlo(r);
  if (c.auth_mechanisms.size() > 64) abort();
  for (const auto& m : c.auth_mechanisms) {
    if (m.empty() || m.size() > 40) abort();
  }
  return 0;
}
