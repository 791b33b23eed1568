// argv: NUL-separated arguments.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/options.h"
#include "smtp/nexthop.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) args.emplace_back();
    else args.back().push_back(static_cast<char>(data[i]));
  }
  auto o = authrelay::ParseOptions(args);
  if (!o.ok() && o.failure().dsn()[0] != '4') __builtin_trap();  // usage errors defer
  if (o.ok() && o.value().nexthop) (void)authrelay::ParseNextHops(*o.value().nexthop);
  for (const auto& a : args) (void)authrelay::AddressProblem(a);
  return 0;
}
