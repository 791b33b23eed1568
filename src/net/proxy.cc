#include "net/proxy.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <string_view>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/base64.h"
#include "core/sanitize.h"
#include "credmap/map.h"

namespace authrelay {
namespace {

Failure ProxyConfigError(const std::string& where, const std::string& why) {
  return ConfigFailure(where + ": " + why);
}

constexpr std::size_t kMaxHttpHead = 8192;

// A secret made of pieces in one buffer allocated once, larger than the
// small-string size, so no piece is left behind in a reallocated or
// moved-from std::string.
Secret JoinSecret(std::initializer_list<std::string_view> parts) {
  std::size_t total = 0;
  for (std::string_view part : parts) total += part.size();
  std::string buf;
  buf.reserve(std::max<std::size_t>(total, 64));
  for (std::string_view part : parts) buf.append(part);
  return Secret(std::move(buf));
}

// text with every occurrence of the secret replaced by "*****".
std::string WithoutSecret(std::string text, const Secret& secret) {
  const std::string& s = secret.Reveal();
  if (s.empty()) return text;
  for (std::size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + 5)) {
    text.replace(at, s.size(), "*****");
  }
  return text;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Waits until fd is ready for events or the deadline passes.
bool WaitFor(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, deadline.RemainingMs());
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

enum class IoResult { kOk, kTimeout, kClosed, kError };

IoResult WriteAll(int fd, std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!WaitFor(fd, POLLOUT, deadline)) return IoResult::kTimeout;
      continue;
    }
    return IoResult::kError;
  }
  return IoResult::kOk;
}

// Reads exactly n bytes: the proxy's answer, and not one byte of what the
// server sends after it (its greeting belongs to the SMTP session).
IoResult ReadExact(int fd, std::size_t n, std::string& out, Deadline deadline) {
  out.clear();
  while (out.size() < n) {
    char buf[512];
    ssize_t got = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (got > 0) {
      out.append(buf, static_cast<std::size_t>(got));
      continue;
    }
    if (got == 0) return IoResult::kClosed;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!WaitFor(fd, POLLIN, deadline)) return IoResult::kTimeout;
      continue;
    }
    return IoResult::kError;
  }
  return IoResult::kOk;
}

std::string IoWords(IoResult r) {
  switch (r) {
    case IoResult::kTimeout: return "timed out";
    case IoResult::kClosed: return "closed the connection";
    default: return "failed: " + std::string(std::strerror(errno));
  }
}

Failure ProxyFailure(const ProxyConfig& p, const Endpoint& target, const std::string& what) {
  return Failure("4.4.1", "connect to " + target.host + ":" + std::to_string(target.port) + " via proxy " +
                              p.Describe() + ": " + what);
}

// RFC 1928 reply codes: which side said no.
std::string Socks5ReplyWords(int rep) {
  switch (rep) {
    case 1: return "the proxy failed (SOCKS general failure)";
    case 2: return "the proxy refused: not allowed by its rules";
    case 3: return "the proxy cannot reach the server's network (network unreachable)";
    case 4: return "the proxy cannot reach the server (host unreachable, or the name does not resolve there)";
    case 5: return "the server refused the connection (the proxy reached it: connection refused)";
    case 6: return "the server did not answer the proxy in time (TTL expired)";
    case 7: return "the proxy does not support CONNECT";
    case 8: return "the proxy refused the address type (it must support host names)";
    default: return "the proxy answered with unknown reply code " + std::to_string(rep);
  }
}

Status Socks5Handshake(int fd, const ProxyConfig& p, const Endpoint& target, Deadline d) {
  std::string hello = p.has_credentials ? std::string("\x05\x02\x00\x02", 4) : std::string("\x05\x01\x00", 3);
  if (IoResult r = WriteAll(fd, hello, d); r != IoResult::kOk) return ProxyFailure(p, target, "proxy " + IoWords(r));
  std::string ans;
  if (IoResult r = ReadExact(fd, 2, ans, d); r != IoResult::kOk) {
    return ProxyFailure(p, target, "proxy " + IoWords(r) + " during the SOCKS greeting");
  }
  if (ans[0] != 0x05) return ProxyFailure(p, target, "not a SOCKS5 proxy (wrong version in its answer)");
  const unsigned char method = static_cast<unsigned char>(ans[1]);
  if (method == 0xFF) {
    return ProxyFailure(p, target, p.has_credentials ? "the proxy refused every authentication method offered"
                                                     : "the proxy requires authentication (give user:password in "
                                                       "authrelay_proxy_maps)");
  }
  if (method == 0x02) {
    if (!p.has_credentials) return ProxyFailure(p, target, "the proxy chose user/password authentication, none given");
    const std::string& pw = p.password.Reveal();
    if (p.username.size() > 255 || pw.size() > 255) return ProxyFailure(p, target, "proxy user or password too long");
    const char version = 0x01, ulen = static_cast<char>(p.username.size()), plen = static_cast<char>(pw.size());
    Secret auth = JoinSecret({{&version, 1}, {&ulen, 1}, p.username, {&plen, 1}, pw});
    if (IoResult r = WriteAll(fd, auth.Reveal(), d); r != IoResult::kOk) {
      return ProxyFailure(p, target, "proxy " + IoWords(r));
    }
    if (IoResult r = ReadExact(fd, 2, ans, d); r != IoResult::kOk) {
      return ProxyFailure(p, target, "proxy " + IoWords(r) + " during authentication");
    }
    if (ans[0] != 0x01) return ProxyFailure(p, target, "malformed SOCKS5 authentication answer (version)");
    if (ans[1] != 0x00) {
      return Failure("4.7.0", "connect to " + target.host + ":" + std::to_string(target.port) + " via proxy " +
                                  p.Describe() + ": the proxy refused the user name or password for " + p.username);
    }
  } else if (method != 0x00) {
    return ProxyFailure(p, target, "the proxy chose an authentication method authrelay does not speak");
  }
  if (target.host.size() > 255) return ProxyFailure(p, target, "server name too long for SOCKS5");
  std::string req("\x05\x01\x00\x03", 4);
  req.push_back(static_cast<char>(target.host.size()));
  req += target.host;
  req.push_back(static_cast<char>(target.port >> 8));
  req.push_back(static_cast<char>(target.port & 0xFF));
  if (IoResult r = WriteAll(fd, req, d); r != IoResult::kOk) return ProxyFailure(p, target, "proxy " + IoWords(r));
  if (IoResult r = ReadExact(fd, 4, ans, d); r != IoResult::kOk) {
    return ProxyFailure(p, target, "proxy " + IoWords(r) + " before answering CONNECT");
  }
  // A reply that is not SOCKS5 is not trusted to mean "connected": the
  // bytes after it would be taken for the server's greeting.
  if (ans[0] != 0x05) return ProxyFailure(p, target, "malformed SOCKS5 answer to CONNECT (version)");
  if (ans[1] != 0x00) return ProxyFailure(p, target, Socks5ReplyWords(static_cast<unsigned char>(ans[1])));
  if (ans[2] != 0x00) return ProxyFailure(p, target, "malformed SOCKS5 answer to CONNECT (reserved byte)");
  std::size_t rest = 0;
  switch (ans[3]) {
    case 0x01: rest = 4 + 2; break;
    case 0x04: rest = 16 + 2; break;
    case 0x03: {
      std::string len;
      if (ReadExact(fd, 1, len, d) != IoResult::kOk) return ProxyFailure(p, target, "proxy closed the connection");
      rest = static_cast<unsigned char>(len[0]) + 2u;
      break;
    }
    default: return ProxyFailure(p, target, "malformed SOCKS5 answer (address type)");
  }
  if (ReadExact(fd, rest, ans, d) != IoResult::kOk) return ProxyFailure(p, target, "proxy closed the connection");
  return {};
}

Status HttpConnect(int fd, const ProxyConfig& p, const Endpoint& target, Deadline d) {
  std::string authority = (target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host) + ":" +
                          std::to_string(target.port);
  const std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  Secret whole;
  if (p.has_credentials) {
    Secret user_pass = JoinSecret({p.username, ":", p.password.Reveal()});
    std::string b64 = Base64Encode(user_pass.Reveal());  // built in place: wiped below
    whole = JoinSecret({req, "Proxy-Authorization: Basic ", b64, "\r\n\r\n"});
    WipeBytes(b64.data(), b64.size());
  } else {
    whole = Secret(req + "\r\n");
  }
  if (IoResult r = WriteAll(fd, whole.Reveal(), d); r != IoResult::kOk) {
    return ProxyFailure(p, target, "proxy " + IoWords(r));
  }
  // The answer's head, one byte at a time: the server's greeting may follow
  // right after it and must stay unread.
  std::string head, byte;
  while (head.size() < kMaxHttpHead && (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0)) {
    if (IoResult r = ReadExact(fd, 1, byte, d); r != IoResult::kOk) {
      return ProxyFailure(p, target, "proxy " + IoWords(r) + " before answering CONNECT");
    }
    head += byte;
  }
  // A head that never ends is not an answer: taking its status line would
  // hand the rest of the header to the SMTP session as the greeting.
  if (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
    return ProxyFailure(p, target, "the proxy's answer to CONNECT has no end of header within " +
                                       std::to_string(kMaxHttpHead) + " bytes");
  }
  // The proxy's own words go to the log: never with the password in them,
  // even when the proxy echoes it back.
  std::string status_line = WithoutSecret(head.substr(0, head.find("\r\n")), p.password);
  int code = 0;
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12 ||
      (code = std::atoi(status_line.c_str() + 9)) < 100) {
    return ProxyFailure(p, target, "not an HTTP proxy (answer: " + Printable(status_line, 100) + ")");
  }
  if (code / 100 == 2) return {};
  std::string said = "the proxy answered \"" + Printable(status_line, 120) + "\"";
  if (code == 407) {
    return Failure("4.7.0", "connect to " + authority + " via proxy " + p.Describe() + ": " + said +
                                (p.has_credentials ? ": it refused the user name or password for " + p.username
                                                   : ": it wants credentials (user:password@ in authrelay_proxy_maps)"));
  }
  if (code == 502 || code == 503 || code == 504) {
    return ProxyFailure(p, target, said + ": the proxy could not reach the server (the server refused or did not "
                                          "answer)");
  }
  return ProxyFailure(p, target, said + ": the proxy refused");
}

}  // namespace

std::string ProxyConfig::Describe() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(kind == Kind::kSocks5 ? "socks5 " : "http ") + h + ":" + std::to_string(port);
}

Secret ProxyConfig::CurlUrl() const {
  // One buffer, reserved once for the worst case (every byte %-escaped), so
  // the password is never left behind in a temporary or a reallocation.
  std::string out;
  out.reserve(64 + host.size() + 3 * (username.size() + password.size()));
  out += kind == Kind::kSocks5 ? "socks5h://" : "http://";
  auto append_escaped = [&out](std::string_view s) {
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        static constexpr char kHex[] = "0123456789ABCDEF";
        out.push_back('%');
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
      }
    }
  };
  if (has_credentials) {
    append_escaped(username);
    out.push_back(':');
    append_escaped(password.Reveal());
    out.push_back('@');
  }
  if (host.find(':') != std::string::npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return Secret(std::move(out));
}

Result<ProxyConfig> ParseProxyUrl(std::string_view url, const std::string& where, bool allow_credentials) {
  ProxyConfig p;
  std::string_view rest(url);
  if (rest.rfind("socks5://", 0) == 0 || rest.rfind("socks5h://", 0) == 0) {
    p.kind = ProxyConfig::Kind::kSocks5;
    rest.remove_prefix(rest.find("//") + 2);
  } else if (rest.rfind("http://", 0) == 0) {
    p.kind = ProxyConfig::Kind::kHttpConnect;
    rest.remove_prefix(7);
  } else {
    return ProxyConfigError(where, "a proxy is socks5://host:port or http://host:port");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    if (!allow_credentials) {
      return ProxyConfigError(where, "proxy credentials do not belong in a configuration file anyone can read: put "
                                     "the URL with user:password@ in authrelay_proxy_maps (mode 0640)");
    }
    std::string_view cred = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto colon = cred.find(':');
    std::string pw;
    pw.reserve(std::max<std::size_t>(cred.size(), 64));  // never reallocated: no stray copy
    if (!PercentDecode(cred.substr(0, colon), p.username) ||
        (colon != std::string_view::npos && !PercentDecode(cred.substr(colon + 1), pw))) {
      return ProxyConfigError(where, "bad %-escape in the proxy user or password");
    }
    p.password = Secret(std::move(pw));
    p.has_credentials = true;
  }
  std::string_view hostport = rest;
  std::string_view port_text;
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos || close + 1 >= hostport.size() || hostport[close + 1] != ':') {
      return ProxyConfigError(where, "proxy address [v6]:port expected");
    }
    p.host = std::string(hostport.substr(1, close - 1));
    port_text = hostport.substr(close + 2);
  } else {
    auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) return ProxyConfigError(where, "the proxy URL needs a port (host:port)");
    p.host = std::string(hostport.substr(0, colon));
    port_text = hostport.substr(colon + 1);
  }
  long port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9' || port > 65535) return ProxyConfigError(where, "bad proxy port");
    port = port * 10 + (c - '0');
  }
  if (p.host.empty() || port_text.empty() || port < 1 || port > 65535) {
    return ProxyConfigError(where, "proxy host:port expected");
  }
  p.port = static_cast<std::uint16_t>(port);
  return p;
}

Result<std::optional<ProxyConfig>> FindProxy(const std::string& global_url, const std::string& maps,
                                             const std::string& nexthop, const std::string& server_host) {
  if (!Trim(maps).empty()) {
    auto tables = TableList::Open("authrelay_proxy_maps", maps, nullptr);
    if (!tables.ok()) return tables.failure();
    for (const std::string& key : {nexthop, server_host}) {
      auto hit = tables.value().Find(key);
      if (!hit.ok()) return hit.failure();
      if (!hit.value()) continue;
      const std::string& v = hit.value()->value.Reveal();
      if (Trim(v) == "direct") return std::optional<ProxyConfig>();
      // Parsed in place: a copy of the URL would be an unwiped copy of the password.
      auto p = ParseProxyUrl(Trim(v), "authrelay_proxy_maps entry for " + key, true);
      if (!p.ok()) return p.failure();
      return std::optional<ProxyConfig>(std::move(p).value());
    }
  }
  if (Trim(global_url).empty()) return std::optional<ProxyConfig>();
  auto p = ParseProxyUrl(Trim(global_url), "authrelay_proxy", false);
  if (!p.ok()) return p.failure();
  return std::optional<ProxyConfig>(std::move(p).value());
}

Endpoint ProxiedEndpoint(const std::string& host, std::uint16_t port) {
  Endpoint ep;
  ep.host = host;
  ep.address = "via proxy";
  ep.port = port;
  return ep;
}

Result<UniqueFd> ConnectViaProxy(const ProxyConfig& proxy, const Endpoint& target, Deadline deadline,
                                 const std::string& inet_protocols, const std::string& bind_address) {
  auto eps = ResolveHost(proxy.host, proxy.port, inet_protocols);
  if (!eps.ok()) {
    return Failure("4.4.3", "proxy " + proxy.Describe() + ": " + eps.failure().text(), eps.failure().detail());
  }
  std::optional<Failure> last;
  for (const Endpoint& ep : eps.value()) {
    auto fd = ConnectTo(ep, deadline, bind_address);
    if (!fd.ok()) {
      last = Failure("4.4.1", "connect to proxy " + proxy.Describe() + " failed (the proxy, not the mail server): " +
                                  fd.failure().text());
      continue;
    }
    UniqueFd sock = std::move(fd).value();
    Status tunnel = proxy.kind == ProxyConfig::Kind::kSocks5 ? Socks5Handshake(sock.get(), proxy, target, deadline)
                                                             : HttpConnect(sock.get(), proxy, target, deadline);
    if (!tunnel.ok()) return tunnel.failure();
    return sock;
  }
  return *last;
}

}  // namespace authrelay
