// Internal to share/: what the client side (share.cc) and the holder
// (holder.cc) both use. Two files because a delivery over a held session
// links only the client side, and the holder's side needs TLS (OpenSSL).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "core/deadline.h"
#include "core/transport.h"
#include "share/share.h"

namespace authrelay::share {

// The socket of slot `slot` for a key name.
std::string SlotPath(const ShareSettings& cfg, const std::string& name, long slot);
bool FillUnixAddress(const std::string& path, sockaddr_un& sa);
// The listener (or client) at the other end runs as `uid`.
bool PeerIs(int fd, uid_t uid);
bool PeerIsUs(int fd);
IoStatus WaitFd(int fd, short events, Deadline deadline);
IoStatus WriteAll(int fd, std::string_view data, Deadline deadline);
// Reads one '\n'-terminated line (at most 4 KB) without consuming more.
bool ReadHelloLine(int fd, std::string& line, Deadline deadline);
// The holder's answer words (parsed by the client).
std::string FormatStatus(const HeldStatus& s);

}  // namespace authrelay::share
