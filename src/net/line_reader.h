// Splitting received bytes into SMTP reply lines, for every byte stream
// that carries them (the server connection, net/connection.cc, and a held
// session's socket, share/share.cc). Header only: it needs no library.
#pragma once

#include <cstddef>
#include <string>

namespace authrelay {

// Moves bytes from buf[pos..] into `line` up to and including a '\n'.
// Returns true when the line is complete (the '\n' and a '\r' before it
// removed). A line longer than max_len keeps its first max_len bytes; the
// rest is read to the end of the line and dropped (`truncated` says so, and
// then a trailing '\r' is data, not the line end). Call with line cleared
// and truncated false for each new line; on false, refill buf and call
// again.
inline bool TakeLine(const std::string& buf, std::size_t& pos, std::string& line, std::size_t max_len,
                     bool& truncated) {
  while (pos < buf.size()) {
    char c = buf[pos++];
    if (c == '\n') {
      if (!line.empty() && line.back() == '\r' && !truncated) line.pop_back();
      return true;
    }
    if (line.size() < max_len) {
      line.push_back(c);
    } else {
      truncated = true;
    }
  }
  return false;
}

}  // namespace authrelay
