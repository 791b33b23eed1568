// Name resolution and TCP connect, apart from connection.cc (the TLS
// stream): a delivery over a held session resolves its server's address
// for the session key, and must not link (and so load) OpenSSL for it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/sanitize.h"
#include "net/connection.h"

namespace authrelay {

Result<std::vector<Endpoint>> ResolveHost(const std::string& host, std::uint16_t port,
                                          const std::string& inet_protocols) {
  std::string protos = Lowercase(inet_protocols);
  bool v4 = protos.find("ipv4") != std::string::npos || protos.find("all") != std::string::npos;
  bool v6 = protos.find("ipv6") != std::string::npos || protos.find("all") != std::string::npos;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = v4 && !v6 ? AF_INET : (v6 && !v4 ? AF_INET6 : AF_UNSPEC);
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
    hints.ai_flags = 0;  // loopback-only hosts (tests, namespaces) have no "configured" address
    rc = getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res);
  }
  if (rc != 0) {
    bool permanent = rc == EAI_NONAME;
    return Failure(permanent ? "4.4.4" : "4.4.3",
                   "Host or domain name not found. Name service error for name=" + Printable(host, 200) +
                       " type=A: " + (permanent ? "Host not found" : "Host not found, try again"),
                   std::string("getaddrinfo: ") + gai_strerror(rc));
  }
  std::vector<Endpoint> out;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    Endpoint ep;
    ep.host = host;
    ep.port = port;
    std::memcpy(&ep.sa, ai->ai_addr, ai->ai_addrlen);
    ep.sa_len = ai->ai_addrlen;
    char buf[INET6_ADDRSTRLEN] = "";
    const void* addr = ai->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                                                : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    inet_ntop(ai->ai_family, addr, buf, sizeof buf);
    ep.address = buf;
    bool dup = false;
    for (const auto& e : out) dup = dup || e.address == ep.address;
    if (!dup) out.push_back(std::move(ep));
  }
  freeaddrinfo(res);
  if (out.empty()) {
    return Failure("4.4.4", "Host or domain name not found. Name service error for name=" + Printable(host, 200) +
                                " type=A: Host not found");
  }
  return out;
}

Result<UniqueFd> ConnectTo(const Endpoint& ep, Deadline deadline, const std::string& bind_address) {
  auto fail = [&](const std::string& why, int err = 0) {
    return Failure("4.4.1", "connect to " + ep.Name() + ": " + why)
        .WithCause(err == ECONNREFUSED ? Cause::kConnectRefused : Cause::kUnclassified);
  };
  UniqueFd fd(socket(ep.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail(std::strerror(errno));
  int one = 1;
  // Commands are small and each waits for a reply: Nagle would only add
  // delayed-ACK stalls.
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!bind_address.empty()) {
    sockaddr_storage local{};
    socklen_t len = 0;
    if (ep.sa.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&local);
      a->sin_family = AF_INET;
      if (inet_pton(AF_INET, bind_address.c_str(), &a->sin_addr) == 1) len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&local);
      a->sin6_family = AF_INET6;
      if (inet_pton(AF_INET6, bind_address.c_str(), &a->sin6_addr) == 1) len = sizeof *a;
    }
    if (len == 0 || bind(fd.get(), reinterpret_cast<sockaddr*>(&local), len) != 0) {
      return Failure("4.4.1", "connect to " + ep.Name() + ": cannot bind to local address " +
                                  Printable(bind_address, 60) + ": " + (len ? std::strerror(errno) : "not an address"));
    }
  }
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&ep.sa), ep.sa_len) != 0) {
    if (errno != EINPROGRESS) return fail(std::strerror(errno), errno);
    pollfd p{fd.get(), POLLOUT, 0};
    int rc;
    do {
      rc = poll(&p, 1, deadline.RemainingMs());
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return fail("Connection timed out");
    if (rc < 0) return fail(std::strerror(errno));
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(std::strerror(err), err);
  }
  return fd;
}

}  // namespace authrelay
