// The holder: the detached process that keeps a delivered session open
// for later deliveries (share.h). Apart from share.cc because it needs the
// TLS connection, and a delivery over a held session must not link it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "core/sanitize.h"
#include "net/connection.h"
#include "share/share.h"
#include "share/wire.h"
#include "tls/tls_client.h"

namespace authrelay::share {

namespace {

struct Pending {
  std::unique_ptr<TlsClient> tls;
  std::unique_ptr<Connection> conn;
  ShareSettings cfg;
  std::string name;
  HeldStatus status;
  log::Options log_options;
  std::chrono::steady_clock::time_point opened;
};

std::optional<Pending>& ThePending() {
  static std::optional<Pending> p;
  return p;
}

class Holder {
 public:
  explicit Holder(Pending& p) : p_(p) {}
  void Run();

 private:
  bool Claim();
  // Serves one client; true if the session is clean for the next one.
  bool Relay(int client);
  // Something arrived from the server while no client was attached.
  void ServerSpokeWhileIdle();
  void Quit();
  void Release();
  long Age() const {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - p_.opened).count());
  }

  Pending& p_;
  UniqueFd listen_;
  std::string path_;
  struct stat claimed_{};
};

bool Holder::Claim() {
  listen_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (listen_.get() < 0) return false;
  // Bound and listening under a private name first, then linked to a slot
  // name: a client never finds a slot socket that is not yet listening (it
  // would take it for stale), and link() never replaces another holder's.
  std::string tmp = p_.cfg.directory + "/" + p_.name + ".tmp" + std::to_string(getpid());
  sockaddr_un sa;
  if (!FillUnixAddress(tmp, sa)) return false;
  unlink(tmp.c_str());
  if (bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(listen_.get(), 16) != 0) {
    unlink(tmp.c_str());
    return false;
  }
  bool linked = false;
  for (long i = 0; i < p_.cfg.slots && !linked; ++i) {
    std::string path = SlotPath(p_.cfg, p_.name, i);
    if (link(tmp.c_str(), path.c_str()) == 0) {
      path_ = path;
      linked = true;
    }
  }
  unlink(tmp.c_str());
  if (linked) lstat(path_.c_str(), &claimed_);
  return linked;
}

void Holder::Release() {
  if (path_.empty()) return;
  struct stat now{};
  if (lstat(path_.c_str(), &now) == 0 && now.st_ino == claimed_.st_ino && now.st_dev == claimed_.st_dev) {
    unlink(path_.c_str());
  }
  path_.clear();
}

void Holder::Quit() {
  // As smtp(8) ends a cached connection: QUIT, and a short wait for 221.
  Deadline d = Deadline::AfterSeconds(5);
  if (p_.conn->Write("QUIT\r\n", d) != IoStatus::kOk) return;
  std::string reply;
  (void)p_.conn->ReadLine(reply, 512, d);
}

void Holder::ServerSpokeWhileIdle() {
  std::string got;
  IoStatus s = p_.conn->ReadAvailable(got, Deadline::AfterSeconds(5));
  if (s == IoStatus::kOk) {
    log::Info("shared session to " + p_.status.server + " closed: the server said " +
              Printable(got.substr(0, got.find('\r')), 200) + " while idle");
  } else {
    log::Info("shared session to " + p_.status.server + " closed by the server while idle (" +
              p_.conn->last_error() + ")");
  }
}

bool Holder::Relay(int client) {
  std::string in;        // framed bytes from the client, not yet parsed
  std::string from_server;
  bool clean = false;
  bool relayed = false;  // anything sent to the server for this client
  // A client that stops reading and writing without closing: no delivery
  // runs longer than authrelay_time_limit, so past that it has given up and
  // the transaction will never finish (the session's state is unknown).
  const auto attached = std::chrono::steady_clock::now();
  const auto give_up = attached + std::chrono::seconds(p_.cfg.client_limit);
  for (;;) {
    pollfd fds[3] = {{client, POLLIN, 0}, {p_.conn->fd(), POLLIN, 0}, {listen_.get(), POLLIN, 0}};
    bool server_ready = p_.conn->HasBufferedInput();
    long left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now())
                       .count();
    int rc = server_ready ? 1 : poll(fds, 3, static_cast<int>(std::clamp(left_ms, 0L, 1800L * 1000)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      log::Info("shared session to " + p_.status.server + ": the delivery using it stalled for longer than "
                "authrelay_time_limit (" + std::to_string(p_.cfg.client_limit) + "s); closing it");
    }
    if (rc <= 0) return false;
    if (server_ready || (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      from_server.clear();
      IoStatus s = p_.conn->ReadAvailable(from_server, Deadline::AfterSeconds(60));
      if (s != IoStatus::kOk) return false;  // closing the client socket tells it
      if (WriteAll(client, from_server, Deadline::AfterSeconds(60)) != IoStatus::kOk) return false;
      if (clean) return false;  // the server spoke after a clean end: unknown state
      continue;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char tmp[65536];
      ssize_t n = recv(client, tmp, sizeof tmp, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      // A client that leaves before sending anything (it gave up waiting
      // for our answer) changed nothing: the session is still clean.
      if (n <= 0) return (clean || !relayed) && in.empty();
      if (clean) return false;  // nothing may follow the clean frame
      in.append(tmp, static_cast<std::size_t>(n));
      std::size_t pos = 0;
      while (in.size() - pos >= 4) {
        std::size_t len = (std::size_t(static_cast<unsigned char>(in[pos])) << 24) |
                          (std::size_t(static_cast<unsigned char>(in[pos + 1])) << 16) |
                          (std::size_t(static_cast<unsigned char>(in[pos + 2])) << 8) |
                          std::size_t(static_cast<unsigned char>(in[pos + 3]));
        if (len == 0) {
          clean = true;
          pos += 4;
          if (pos != in.size()) return false;
          break;
        }
        if (len > (1u << 20)) return false;
        if (in.size() - pos - 4 < len) break;
        relayed = true;
        if (p_.conn->Write(std::string_view(in).substr(pos + 4, len), Deadline::AfterSeconds(600)) != IoStatus::kOk) {
          return false;
        }
        pos += 4 + len;
      }
      in.erase(0, pos);
      continue;
    }
    if (fds[2].revents & POLLIN) {
      // One client at a time: a second one is told to go elsewhere.
      UniqueFd other(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (other.get() >= 0) (void)WriteAll(other.get(), "BUSY\n", Deadline::AfterSeconds(1));
    }
  }
}

void Holder::Run() {
  if (!Claim()) {
    Quit();
    return;
  }
  log::Info("holding the session to " + p_.status.server + " for later deliveries (" + path_ + ")");
  const char* why = "";
  long uses = 1;
  for (;;) {
    if (p_.cfg.count_limit > 0 && uses >= p_.cfg.count_limit) {
      why = "reuse count limit reached (smtp_connection_reuse_count_limit)";
      break;
    }
    long left_ms = (p_.cfg.time_limit - Age()) * 1000;
    if (left_ms <= 0) {
      why = "reuse time limit reached (smtp_connection_reuse_time_limit)";
      break;
    }
    pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {p_.conn->fd(), POLLIN, 0}};
    bool server_ready = p_.conn->HasBufferedInput();
    int rc = server_ready ? 1 : poll(fds, 2, static_cast<int>(std::min<long>(left_ms, p_.cfg.idle_limit * 1000)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      why = "poll failed";
      break;
    }
    if (rc == 0) {
      why = left_ms <= p_.cfg.idle_limit * 1000 ? "reuse time limit reached (smtp_connection_reuse_time_limit)"
                                                : "idle (smtp_connection_cache_time_limit)";
      break;
    }
    if (server_ready || (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      Release();
      ServerSpokeWhileIdle();
      return;
    }
    if (!(fds[0].revents & POLLIN)) continue;
    UniqueFd client(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (client.get() < 0) continue;
    // Root (--check) may ask how the session is; only our uid may use it.
    const bool from_root = !PeerIsUs(client.get()) && PeerIs(client.get(), 0);
    if (!from_root && !PeerIsUs(client.get())) continue;
    std::string request;
    if (!ReadHelloLine(client.get(), request, Deadline::AfterSeconds(5))) continue;
    p_.status.age = Age();
    if (request == "STAT") {
      p_.status.use = uses;
      (void)WriteAll(client.get(), "OK " + FormatStatus(p_.status) + "\n", Deadline::AfterSeconds(1));
      continue;
    }
    if (request != "USE" || from_root) continue;
    p_.status.use = uses + 1;
    if (WriteAll(client.get(), "OK " + FormatStatus(p_.status) + "\n", Deadline::AfterSeconds(5)) != IoStatus::kOk) {
      continue;  // the client went away before it sent anything to the server
    }
    ++uses;
    if (!Relay(client.get())) {
      // A transaction that did not end cleanly (the client died, timed out,
      // or the server hung up): the session's state is unknown, so it ends
      // here without another word to the server.
      Release();
      log::Info("shared session to " + p_.status.server + " ended after " + std::to_string(uses) +
                " deliveries (the last one did not end cleanly or the server closed)");
      return;
    }
  }
  Release();
  Quit();
  log::Info("shared session to " + p_.status.server + " closed after " + std::to_string(uses) + " deliveries: " + why);
}

}  // namespace

namespace {
char* g_argv_area = nullptr;     // argv[0]
std::size_t g_argv_area_len = 0;  // through the end of the last contiguous argument

// Overwrites the argv area in place: /proc/PID/cmdline (ps) then shows
// `title` (truncated to the area), and no address of the delivery.
void SetProcessTitle(const std::string& title) {
  if (!g_argv_area || g_argv_area_len < 2) return;
  std::memset(g_argv_area, 0, g_argv_area_len);
  std::memcpy(g_argv_area, title.data(), std::min(title.size(), g_argv_area_len - 1));
  prctl(PR_SET_NAME, "authrelay-hold", 0, 0, 0);
}
}  // namespace

void RememberArgv(int argc, char** argv) {
  if (argc < 1 || !argv[0]) return;
  char* end = argv[0] + std::strlen(argv[0]) + 1;
  for (int i = 1; i < argc && argv[i] == end; ++i) end = argv[i] + std::strlen(argv[i]) + 1;
  g_argv_area = argv[0];
  g_argv_area_len = static_cast<std::size_t>(end - argv[0]);
}

void OfferSession(std::unique_ptr<TlsClient> tls, std::unique_ptr<Connection> conn, const ShareSettings& cfg,
                  std::string name, std::string server, const Capabilities& caps, const TlsInfo& info,
                  log::Options log_options) {
  Pending p;
  p.tls = std::move(tls);
  p.conn = std::move(conn);
  p.cfg = cfg;
  p.name = std::move(name);
  p.status.pid = 0;
  p.status.server = std::move(server);
  p.status.caps = caps;
  p.status.tls = info;
  p.status.tls.chain.clear();
  p.log_options = std::move(log_options);
  p.opened = std::chrono::steady_clock::now();
  ThePending() = std::move(p);
}

void DetachHolder() {
  auto& pending = ThePending();
  if (!pending) return;
  Pending& p = *pending;
  pid_t child = fork();
  if (child != 0) {
    // This process (the delivery) exits soon: its copy of the session must
    // go without a TLS close_notify, which would end the holder's session.
    int fd = p.conn->fd();
    (void)p.conn.release();
    (void)p.tls.release();
    pending.reset();
    close(fd);
    if (child > 0) {
      int st;
      while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
      }
    }
    return;
  }
  // The first child: a new session (no controlling terminal, not in
  // pipe(8)'s process group), then the holder as its child, so that it is
  // not a session leader and is reparented away from the delivery.
  setsid();
  if (fork() != 0) _exit(0);
  closelog();
  int keep = p.conn->fd();
  if (keep > 0) syscall(SYS_close_range, 0u, static_cast<unsigned>(keep - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u);
  for (int i = 0; i < 3; ++i) {
    if (i == keep) continue;
    int null = open("/dev/null", O_RDWR);
    if (null >= 0 && null != i) {
      dup2(null, i);
      close(null);
    }
  }
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (chdir("/") != 0) {
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  log::Options lo = p.log_options;
  lo.to_stderr = false;
  log::Init(lo);
  log::SetQueueId("");
  p.status.pid = getpid();
  SetProcessTitle("authrelay: holder " + p.status.server);
  Holder(p).Run();
  p.conn.reset();
  _exit(0);
}

}  // namespace authrelay::share
