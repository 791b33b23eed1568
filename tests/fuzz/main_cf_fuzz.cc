// main.cf text: parse, expand every parameter; no crash, no hang.
#include <cstdint>
#include <string_view>

#include "config/main_cf.h"
#include "config/settings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto cf = authrelay::MainCf::Parse(in);
  if (!cf.ok()) {
    if (cf.failure().dsn() != "4.3.5") __builtin_trap();
    return 0;
  }
  for (const auto& name : cf.value().ExplicitNames()) {
    (void)cf.value().Get(name);
    (void)cf.value().GetTime(name);
  }
  (void)authrelay::LoadSettings(cf.value());
  return 0;
}
