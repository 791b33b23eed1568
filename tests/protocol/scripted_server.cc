#include "protocol/scripted_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>

namespace authrelay::testing {

ScriptedServer::ScriptedServer() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  listen(listen_fd_, 1);
  socklen_t len = sizeof sa;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  port_ = ntohs(sa.sin_port);
}

ScriptedServer::~ScriptedServer() {
  if (thread_.joinable()) thread_.join();
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
  if (listen_fd_ >= 0) close(listen_fd_);
}

ScriptedServer& ScriptedServer::Send(std::string line) { return SendRaw(line + "\r\n"); }

ScriptedServer& ScriptedServer::SendRaw(std::string bytes) {
  steps_.push_back([this, bytes] { return WriteAll(bytes); });
  return *this;
}

ScriptedServer& ScriptedServer::Expect(std::string prefix) {
  steps_.push_back([this, prefix] {
    std::string line;
    if (!ReadLine(line)) {
      error_ = "expected \"" + prefix + "\", got end of connection";
      return false;
    }
    if (line.rfind(prefix, 0) != 0) {
      error_ = "expected \"" + prefix + "\", got \"" + line + "\"";
      return false;
    }
    return true;
  });
  return *this;
}

ScriptedServer& ScriptedServer::StartTls(std::string cert, std::string key, int max_version) {
  steps_.push_back([this, cert, key, max_version] {
    SSL_CTX* ctx = shared_ctx_;
    if (!ctx) {
      ctx = ctx_ = SSL_CTX_new(TLS_server_method());
      if (max_version) SSL_CTX_set_max_proto_version(ctx_, max_version);
      // OpenSSL 3 signs a TLS 1.0/1.1 key exchange only at security level 0.
      if (max_version && max_version < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx_, 0);
      if (!client_ca_.empty()) {
        SSL_CTX_load_verify_locations(ctx_, client_ca_.c_str(), nullptr);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      }
      if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
        error_ = "server cannot load " + cert;
        return false;
      }
    }
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    buf_.clear();
    if (SSL_accept(ssl_) != 1) {
      error_ = "server TLS handshake failed";
      return false;
    }
    session_reused_ = SSL_session_reused(ssl_) == 1;
    if (const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) sni_ = sni;
    if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
      char buf[256];
      X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
      client_subject_ = buf;
    }
    return true;
  });
  return *this;
}

ScriptedServer& ScriptedServer::ExpectClosed() {
  steps_.push_back([this] {
    std::string line;
    if (ReadLine(line)) {
      error_ = "expected the client to hang up, got \"" + line + "\"";
      return false;
    }
    return true;
  });
  return *this;
}

ScriptedServer& ScriptedServer::ReadData() {
  steps_.push_back([this] {
    std::string line;
    while (ReadLine(line)) {
      if (line == ".") return true;
      data_ += line + "\n";
    }
    error_ = "connection ended inside DATA";
    return false;
  });
  return *this;
}

ScriptedServer& ScriptedServer::Close() {
  steps_.push_back([this] {
    if (ssl_) SSL_shutdown(ssl_);
    shutdown(fd_, SHUT_RDWR);
    return true;
  });
  return *this;
}

ScriptedServer& ScriptedServer::SendEcho(std::string prefix) {
  steps_.push_back([this, prefix] { return WriteAll(prefix + (received_.empty() ? "" : received_.back()) + "\r\n"); });
  return *this;
}

ScriptedServer& ScriptedServer::Flood(std::string unit, int max_seconds) {
  steps_.push_back([this, unit, max_seconds] {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(max_seconds);
    std::string block;
    while (block.size() < (1u << 20)) block += unit;  // big writes: the client never finds the socket empty
    while (std::chrono::steady_clock::now() < until) {
      if (!WriteAll(block)) return true;  // the client hung up: what it should do
    }
    error_ = "the client was still reading after " + std::to_string(max_seconds) + " s of flood";
    return false;
  });
  return *this;
}

ScriptedServer& ScriptedServer::Trickle(std::string bytes, int gap_ms, int max_seconds) {
  steps_.push_back([this, bytes, gap_ms, max_seconds] {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(max_seconds);
    for (std::size_t i = 0; std::chrono::steady_clock::now() < until; ++i) {
      if (!WriteAll(std::string(1, bytes[i % bytes.size()]))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    }
    error_ = "the client was still reading after " + std::to_string(max_seconds) + " s of trickle";
    return false;
  });
  return *this;
}

void ScriptedServer::Start() { thread_ = std::thread([this] { Run(); }); }

std::string ScriptedServer::Finish() {
  if (thread_.joinable()) thread_.join();
  return error_;
}

void ScriptedServer::Run() {
  fd_ = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  timeval tv{5, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  for (auto& step : steps_) {
    if (!step()) return;
  }
}

bool ScriptedServer::ReadLine(std::string& line) {
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      line = buf_.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      buf_.erase(0, nl + 1);
      received_.push_back(line);
      return true;
    }
    char tmp[4096];
    int n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : static_cast<int>(recv(fd_, tmp, sizeof tmp, 0));
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

bool ScriptedServer::WriteAll(const std::string& s) {
  if (ssl_) return SSL_write(ssl_, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size());
  return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

}  // namespace authrelay::testing
