#include "core/list.h"

namespace authrelay {

std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> out;
  std::string cur;
  int braces = 0;
  for (char c : value) {
    if (c == '{') ++braces;
    if (c == '}' && braces > 0) --braces;
    if (braces == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace authrelay
