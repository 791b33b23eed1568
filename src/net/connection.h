// TCP connections with deadlines, and the Transport over them (plain, then
// optionally TLS through OpenSSL on the same non-blocking socket).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/deadline.h"
#include "core/result.h"
#include "core/unique_fd.h"
#include "core/transport.h"
#include "tls/tls_client.h"

namespace authrelay {

struct Endpoint {
  std::string host;     // as named by the next hop or MX
  std::string address;  // numeric, "127.0.0.1" or "::1"
  std::uint16_t port = 25;
  sockaddr_storage sa{};
  socklen_t sa_len = 0;
  // smtp(8)'s "host[addr]:port".
  std::string Name() const { return host + "[" + address + "]:" + std::to_string(port); }
  std::string HostAddr() const { return host + "[" + address + "]"; }
};

// getaddrinfo() for host:port; inet_protocols is "all", "ipv4", "ipv6" or
// "ipv4, ipv6". Failure 4.4.3 (temporary) or 5.4.4-as-4.3.5 is decided by
// the caller; here: Failure with dsn 4.4.3 and Postfix's wording.
Result<std::vector<Endpoint>> ResolveHost(const std::string& host, std::uint16_t port,
                                          const std::string& inet_protocols);

// Non-blocking connect bounded by deadline. Failure 4.4.1 "connect to
// H[A]:port: reason".
// bind_address: the local address to connect from ("" = any), as
// smtp_bind_address / smtp_bind_address6 for the endpoint's family.
Result<UniqueFd> ConnectTo(const Endpoint& ep, Deadline deadline, const std::string& bind_address = "");

// Transport over a connected socket. tls may be null (no TLS possible).
class Connection final : public Transport {
 public:
  Connection(UniqueFd fd, TlsClient* tls);
  ~Connection() override;
  IoStatus ReadLine(std::string& line, std::size_t max_len, Deadline deadline) override;
  IoStatus Write(std::string_view data, Deadline deadline) override;
  std::size_t DiscardUnreadInput() override;
  // True if the server sent bytes not read yet (for a holder deciding
  // whether the server spoke up).
  bool HasBufferedInput();
  TlsFailure StartTls(Deadline deadline) override;
  const TlsInfo* tls() const override { return tls_info_ ? tls_info_.get() : nullptr; }
  const std::string& last_error() const override { return error_; }
  // For a holder of a shared session (src/share): the socket to poll, and
  // whatever the server has sent (at least one byte, waiting until deadline).
  int fd() const { return fd_.get(); }
  IoStatus ReadAvailable(std::string& out, Deadline deadline);

 private:
  // Fills buf_ with at least one more byte. kOk, kEof, kTimeout, kError.
  IoStatus Fill(Deadline deadline);
  // Polls for events until the deadline; every loop that reads or writes
  // checks the deadline itself too, so data that keeps coming never
  // outlasts it.
  IoStatus WaitFor(short events, Deadline deadline);
  IoStatus TimedOut();

  UniqueFd fd_;
  TlsClient* tls_client_;
  SslPtr ssl_;
  std::unique_ptr<TlsInfo> tls_info_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace authrelay
