#include "net/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/sanitize.h"
#include "net/line_reader.h"

namespace authrelay {

Connection::Connection(UniqueFd fd, TlsClient* tls) : fd_(std::move(fd)), tls_client_(tls) {}

Connection::~Connection() {
  if (ssl_) {
    // Best effort close_notify; never block on it.
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
  }
}

IoStatus Connection::TimedOut() {
  error_ = "timed out";
  return IoStatus::kTimeout;
}

IoStatus Connection::WaitFor(short events, Deadline deadline) {
  pollfd p{fd_.get(), events, 0};
  for (;;) {
    if (deadline.Expired()) return TimedOut();
    int rc = poll(&p, 1, deadline.RemainingMs());
    if (rc > 0) return IoStatus::kOk;
    if (rc == 0) return TimedOut();
    if (errno != EINTR) {
      error_ = std::strerror(errno);
      return IoStatus::kError;
    }
  }
}

IoStatus Connection::Fill(Deadline deadline) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  char tmp[16384];
  for (;;) {
    // Checked before every read, not only when one would block: a server
    // that never stops sending must not keep us past the deadline.
    if (deadline.Expired()) return TimedOut();
    if (ssl_) {
      ERR_clear_error();
      int n = SSL_read(ssl_.get(), tmp, sizeof tmp);
      if (n > 0) {
        buf_.append(tmp, static_cast<std::size_t>(n));
        return IoStatus::kOk;
      }
      int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        IoStatus s = WaitFor(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (s != IoStatus::kOk) return s;
        continue;
      }
      if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
        error_ = "connection closed";
        return IoStatus::kEof;
      }
      error_ = "TLS read error: " + OpenSslErrors();
      return IoStatus::kError;
    }
    ssize_t n = recv(fd_.get(), tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<std::size_t>(n));
      return IoStatus::kOk;
    }
    if (n == 0) {
      error_ = "connection closed";
      return IoStatus::kEof;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      IoStatus s = WaitFor(POLLIN, deadline);
      if (s != IoStatus::kOk) return s;
      continue;
    }
    if (errno == EINTR) continue;
    error_ = std::strerror(errno);
    return errno == ECONNRESET ? IoStatus::kEof : IoStatus::kError;
  }
}

IoStatus Connection::ReadLine(std::string& line, std::size_t max_len, Deadline deadline) {
  line.clear();
  bool truncated = false;
  for (;;) {
    if (TakeLine(buf_, pos_, line, max_len, truncated)) return IoStatus::kOk;
    IoStatus s = Fill(deadline);
    if (s != IoStatus::kOk) return s;
  }
}

IoStatus Connection::Write(std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    if (deadline.Expired()) return TimedOut();
    if (ssl_) {
      ERR_clear_error();
      int n = SSL_write(ssl_.get(), data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        IoStatus s = WaitFor(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (s != IoStatus::kOk) return s;
        continue;
      }
      error_ = "TLS write error: " + OpenSslErrors();
      return (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) ? IoStatus::kEof : IoStatus::kError;
    }
    ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      IoStatus s = WaitFor(POLLOUT, deadline);
      if (s != IoStatus::kOk) return s;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    error_ = std::strerror(errno);
    return (errno == EPIPE || errno == ECONNRESET) ? IoStatus::kEof : IoStatus::kError;
  }
  return IoStatus::kOk;
}

IoStatus Connection::ReadAvailable(std::string& out, Deadline deadline) {
  if (pos_ >= buf_.size()) {
    buf_.clear();
    pos_ = 0;
    IoStatus s = Fill(deadline);
    if (s != IoStatus::kOk) return s;
  }
  out.append(buf_, pos_, std::string::npos);
  buf_.clear();
  pos_ = 0;
  return IoStatus::kOk;
}

bool Connection::HasBufferedInput() {
  if (pos_ < buf_.size()) return true;
  if (ssl_ && SSL_pending(ssl_.get()) > 0) return true;
  if (!ssl_) {
    // Bytes the kernel holds that we have not read count too: the server
    // (or an attacker in the path) sent them before we started TLS.
    char c;
    return recv(fd_.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }
  return false;
}

std::size_t Connection::DiscardUnreadInput() {
  std::size_t dropped = buf_.size() - std::min(pos_, buf_.size());
  buf_.clear();
  pos_ = 0;
  if (ssl_) return dropped;
  // Before TLS the kernel's bytes count too: nothing the real server says
  // over TLS can arrive before our ClientHello, so whatever is there now is
  // plaintext. Bounded: a peer streaming garbage fails the handshake anyway.
  char sink[4096];
  for (int i = 0; i < 64; ++i) {
    ssize_t n = recv(fd_.get(), sink, sizeof sink, MSG_DONTWAIT);
    if (n <= 0) break;
    dropped += static_cast<std::size_t>(n);
  }
  return dropped;
}

TlsFailure Connection::StartTls(Deadline deadline) {
  if (!tls_client_) {
    error_ = "no TLS configuration";
    return TlsFailure::kHandshake;
  }
  auto ssl = tls_client_->NewSsl();
  if (!ssl.ok()) {
    error_ = ssl.failure().text() + (ssl.failure().detail().empty() ? "" : ": " + ssl.failure().detail());
    return TlsFailure::kHandshake;
  }
  ssl_ = std::move(ssl).value();
  buf_.clear();
  pos_ = 0;
  SSL_set_fd(ssl_.get(), fd_.get());
  for (;;) {
    if (deadline.Expired()) {
      error_ = "timed out";
      ssl_.reset();
      return TlsFailure::kTimeout;
    }
    ERR_clear_error();
    int rc = SSL_connect(ssl_.get());
    if (rc == 1) break;
    int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      IoStatus s = WaitFor(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
      if (s == IoStatus::kTimeout) {
        ssl_.reset();
        return TlsFailure::kTimeout;
      }
      if (s != IoStatus::kOk) {
        ssl_.reset();
        return TlsFailure::kHandshake;
      }
      continue;
    }
    std::string why = OpenSslErrors();
    error_ = why.empty() ? (err == SSL_ERROR_SYSCALL ? "connection closed during handshake" : "handshake failure") : why;
    ssl_.reset();
    return TlsFailure::kHandshake;
  }
  tls_info_ = std::make_unique<TlsInfo>();
  tls_client_->CheckPeer(ssl_.get(), tls_info_.get());
  if (TlsVerifies(tls_client_->policy().level) && !tls_info_->verified) {
    error_ = tls_info_->verify_error;
    return TlsFailure::kNotVerified;
  }
  return TlsFailure::kNone;
}

}  // namespace authrelay
