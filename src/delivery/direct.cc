#include "delivery/direct.h"

#include "delivery/delivery.h"

#include "net/connection.h"
#include "oauth/http_client.h"
#include "delivery/sasl_factory.h"
#include "share/share.h"
#include "tls/tls_client.h"

namespace authrelay {
namespace {

class SystemLink final : public Link {
 public:
  explicit SystemLink(const TlsPolicy& policy) : tls_(std::make_unique<TlsClient>(policy)) {}
  // The TLS context is built before connecting, so a CA or key setting
  // that cannot work is reported as a configuration problem, not as a
  // failed handshake with a server that did nothing wrong.
  Status Prepare() {
    if (tls_->policy().level < TlsLevel::kVerify && tls_->policy().cert_file.empty()) return {};
    auto ctx = tls_->Context();
    if (!ctx.ok()) return ctx.failure();
    return {};
  }
  void Attach(UniqueFd fd) {
    conn_ = std::make_unique<Connection>(std::move(fd), tls_->policy().level == TlsLevel::kNone ? nullptr : tls_.get());
  }
  Transport& transport() override { return recorder_; }
  void SaveTlsSession() override { tls_->SaveSession(); }
  bool TlsHandshakeFailed() const override { return recorder_.handshake_failed; }
  bool Hold(const share::ShareSettings& cfg, const std::string& name, const std::string& server,
            const Capabilities& caps, const TlsInfo& info, const log::Options& log_options) override {
    if (!conn_ || !conn_->tls()) return false;
    share::OfferSession(std::move(tls_), std::move(conn_), cfg, name, server, caps, info, log_options);
    return true;
  }

 private:
  // Forwards to the connection and remembers whether a handshake failed.
  struct Recorder final : Transport {
    SystemLink* self;
    bool handshake_failed = false;
    explicit Recorder(SystemLink* s) : self(s) {}
    IoStatus ReadLine(std::string& l, std::size_t max, Deadline d) override { return self->conn_->ReadLine(l, max, d); }
    IoStatus Write(std::string_view data, Deadline d) override { return self->conn_->Write(data, d); }
    std::size_t DiscardUnreadInput() override { return self->conn_->DiscardUnreadInput(); }
    TlsFailure StartTls(Deadline d) override {
      TlsFailure f = self->conn_->StartTls(d);
      handshake_failed = f == TlsFailure::kHandshake;
      return f;
    }
    const TlsInfo* tls() const override { return self->conn_->tls(); }
    const std::string& last_error() const override { return self->conn_->last_error(); }
  };
  std::unique_ptr<TlsClient> tls_;  // before conn_: the connection points at it
  std::unique_ptr<Connection> conn_;
  Recorder recorder_{this};
};

class SystemConnectorImpl final : public Connector {
 public:
  SystemConnectorImpl(long connect_timeout, std::string bind4, std::string bind6, std::string inet_protocols)
      : connect_timeout_(connect_timeout),
        bind4_(std::move(bind4)),
        bind6_(std::move(bind6)),
        inet_protocols_(std::move(inet_protocols)) {}
  Result<std::unique_ptr<Link>> Connect(const Endpoint& ep, const TlsPolicy& tls, Deadline deadline,
                                        const ProxyConfig* via) override {
    auto link = std::make_unique<SystemLink>(tls);
    if (Status st = link->Prepare(); !st.ok()) return st.failure();
    const std::string& bind = ep.sa.ss_family == AF_INET6 ? bind6_ : bind4_;
    Deadline d = Deadline::AfterSeconds(connect_timeout_).Min(deadline);
    auto fd = via ? ConnectViaProxy(*via, ep, d, inet_protocols_, bind4_) : ConnectTo(ep, d, bind);
    if (!fd.ok()) return fd.failure();
    link->Attach(std::move(fd).value());
    return std::unique_ptr<Link>(std::move(link));
  }

 private:
  long connect_timeout_;
  std::string bind4_, bind6_;
  std::string inet_protocols_;  // for reaching the proxy itself
};

}  // namespace

std::unique_ptr<Connector> SystemConnector(long connect_timeout, std::string bind_address, std::string bind_address6,
                                           std::string inet_protocols) {
  return std::make_unique<SystemConnectorImpl>(connect_timeout, std::move(bind_address), std::move(bind_address6),
                                               std::move(inet_protocols));
}

const DirectPath& SystemDirectPath() {
  static const DirectPath path{
      [](const Settings& s) {
        return SystemConnector(s.connect_timeout, s.bind_address, s.bind_address6, s.inet_protocols);
      },
      [](const Settings& s) { return SystemSaslFactoryMaker(s); }};
  return path;
}

DeliveryAttempt::SaslFactoryMaker SystemSaslFactoryMaker(const Settings& s) {
  return [&s](const Credentials& creds, const Endpoint& ep, const ProxyConfig* proxy, Deadline deadline) {
    // A refresh may run late in the session (a refused token is renewed
    // after AUTH): it gets what is left of the run's deadline.
    return MakeSaslFactory(creds, ep.host, ep.port, s.oauth_refresh_window,
                           MakeCurlPostWithin(s.tls.ca_file, s.tls.ca_path, 30,
                                              proxy ? std::make_shared<const Secret>(proxy->CurlUrl()) : nullptr,
                                              deadline));
  };
}

}  // namespace authrelay
