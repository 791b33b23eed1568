// The SMTP client against a hostile server: the server's behaviour comes
// from the fuzzer's bytes (reply codes and texts at every step, multi-line
// replies, lines cut anywhere, stalls, floods, disconnects, STARTTLS
// refusals and TLS failures, plaintext injected after STARTTLS, replies that
// echo what we sent, 334 loops) and drives the real Session. Invariants
// checked on every run (abort() on a breach):
//  - Run() ends within its deadline;
//  - delivered only when the server's final reply after our final dot was 2xx;
//  - a permanent failure (5.x, a bounce) only after the server sent a 5xx;
//  - no AUTH before the TLS the policy demands is up (and verified when
//    the level verifies), and none in plaintext unless allowed;
//  - no secret (password, its base64 at any alignment, the AUTH blob) in the
//    status text, its detail, or the log at full verbosity.
//
// Input: 4 policy bytes, then the server's output stream, in which 0xFF
// starts a command (see Op below); every other byte is sent as is.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "core/base64.h"
#include "fakes/fake_transport.h"
#include "log/log.h"
#include "smtp/session.h"

using namespace authrelay;

namespace {

const std::string kUser = "fuzzuser";
const std::string kPassword = "Fz-9q7WmXc2LpT4vR8sKd3Yh";  // long: its base64 cores are long too

enum Op : unsigned char {
  kStall = 1,       // the next read times out (what a stall or a flood ends in)
  kDrop = 2,        // the connection closes
  kEcho = 3,        // the server repeats the last line we sent
  kTlsFail = 4,     // the next handshake fails
  kTlsUnverified = 5,
  kInject = 6,      // plaintext waiting after the STARTTLS reply
  kWriteFail = 7,   // our next write fails
  kEchoB64 = 8,     // base64 of "x" + the last thing we sent (decoded if it was base64)
};

class HostileTransport final : public Transport {
 public:
  explicit HostileTransport(std::string_view script) : script_(script) {}

  IoStatus ReadLine(std::string& line, std::size_t max_len, Deadline deadline) override {
    line.clear();
    if (deadline.Expired()) return Fail(IoStatus::kTimeout, "timed out");
    for (;;) {
      if (!pending_.empty()) {
        std::size_t nl = pending_.find('\n');
        std::string_view part = std::string_view(pending_).substr(0, nl);
        line.assign(part.substr(0, max_len));
        if (!line.empty() && line.back() == '\r') line.pop_back();
        pending_.erase(0, nl == std::string::npos ? std::string::npos : nl + 1);
        NoteReply(line);
        return IoStatus::kOk;
      }
      if (pos_ >= script_.size()) return Fail(IoStatus::kEof, "connection closed");
      unsigned char c = static_cast<unsigned char>(script_[pos_++]);
      if (c != 0xFF || pos_ >= script_.size()) {
        // Plain bytes up to the next command or line end form the next line.
        std::size_t end = pos_;
        while (end < script_.size() && script_[end] != '\n' && static_cast<unsigned char>(script_[end]) != 0xFF) ++end;
        pending_.assign(1, static_cast<char>(c));
        pending_.append(script_.substr(pos_, end - pos_));
        if (end < script_.size() && script_[end] == '\n') ++end, pending_ += '\n';
        pos_ = end;
        continue;
      }
      switch (static_cast<unsigned char>(script_[pos_++])) {
        case kStall: return Fail(IoStatus::kTimeout, "timed out");
        case kDrop: pos_ = script_.size(); return Fail(IoStatus::kEof, "connection closed");
        case kEcho: pending_ = "535 5.7.8 you sent " + last_sent_ + "\n"; break;
        case kEchoB64: {  // what we sent, decoded, re-encoded one byte off our alignment
          std::string_view token = last_sent_;
          if (auto sp = token.rfind(' '); sp != std::string_view::npos) token.remove_prefix(sp + 1);
          auto decoded = Base64Decode(token);
          pending_ = "554 5.7.0 " + Base64Encode("x" + (decoded ? *decoded : last_sent_)) + "\n";
          break;
        }
        case kTlsFail: tls_result_ = TlsFailure::kHandshake; break;
        case kTlsUnverified: tls_result_ = TlsFailure::kNotVerified; break;
        case kInject: inject_ = true; break;
        case kWriteFail: write_fail_ = true; break;
        default: break;
      }
    }
  }

  IoStatus Write(std::string_view data, Deadline deadline) override {
    if (deadline.Expired()) return Fail(IoStatus::kTimeout, "timed out");
    if (write_fail_) return Fail(IoStatus::kEof, "connection reset by peer");
    std::string_view rest = data;
    while (!rest.empty()) {
      std::size_t nl = rest.find('\n');
      std::string_view l = rest.substr(0, nl);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      OnClientLine(l);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    }
    return IoStatus::kOk;
  }
  std::size_t DiscardUnreadInput() override {
    std::size_t n = pending_.size() + (inject_ ? 1 : 0);
    pending_.clear();
    inject_ = false;
    return n;
  }
  TlsFailure StartTls(Deadline) override {
    if (tls_result_ == TlsFailure::kNone) tls_up_ = true;
    return tls_result_;
  }
  const TlsInfo* tls() const override { return tls_up_ ? &info_ : nullptr; }
  const std::string& last_error() const override { return error_; }

  // What the client did, for the invariants.
  bool auth_sent = false, auth_without_tls = false, dot_sent = false, any_5xx = false;
  int reply_after_dot = 0;  // code of the final line after our final dot

 private:
  IoStatus Fail(IoStatus s, const char* why) {
    error_ = why;
    return s;
  }
  void OnClientLine(std::string_view l) {
    if (in_data_) {
      if (l == ".") in_data_ = false, dot_sent = true;
      return;
    }
    last_sent_.assign(l);
    if (l.size() >= 4 && (l.substr(0, 5) == "AUTH " || l.substr(0, 5) == "auth ")) {
      auth_sent = true;
      if (!tls_up_) auth_without_tls = true;
    }
    if (l == "DATA") data_requested_ = true;
  }
  void NoteReply(const std::string& line) {
    bool final_line = line.size() < 4 || line[3] != '-';
    if (!line.empty() && line[0] == '5') any_5xx = true;
    if (data_requested_ && final_line && line.rfind("354", 0) == 0) in_data_ = true, data_requested_ = false;
    if (dot_sent && !in_data_ && final_line && reply_after_dot == 0 && line.size() >= 3) {
      reply_after_dot = std::atoi(line.substr(0, 3).c_str());
    }
  }

  std::string_view script_;
  std::size_t pos_ = 0;
  std::string pending_;
  std::string last_sent_;
  bool in_data_ = false, data_requested_ = false;
  bool tls_up_ = false, inject_ = false, write_fail_ = false;
  TlsFailure tls_result_ = TlsFailure::kNone;
  TlsInfo info_{"TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, true, true, false, "mx", "", {}};
  std::string error_;
};

// PLAIN without Cyrus: the same bytes Cyrus would send, on every step.
class PlainClient final : public SaslClient {
 public:
  Result<SaslStep> Start(const std::vector<std::string>& mechanisms) override {
    for (const auto& m : mechanisms) {
      if (m == "PLAIN") return SaslStep{"PLAIN", Secret(Blob())};
    }
    return Failure("4.7.0", "no mechanism", "fuzz client knows PLAIN only");
  }
  Result<Secret> Step(const std::string&) override { return Secret(Blob()); }
  static std::string Blob() { return std::string(1, '\0') + kUser + '\0' + kPassword; }
};

std::vector<std::string> SecretForms() {
  std::vector<std::string> forms = {kPassword, Base64Encode(PlainClient::Blob())};
  for (std::size_t k = 0; k < 3; ++k) {
    std::string enc = Base64Encode(std::string(k, 'x') + kPassword);
    std::size_t first = (8 * k + 5) / 6, end = 8 * (k + kPassword.size()) / 6;
    forms.push_back(enc.substr(first, end - first));
  }
  return forms;
}

std::string LogPath() { return "/tmp/authrelay-session-fuzz-" + std::to_string(getpid()) + ".log"; }

void Check(bool ok, const char* what, const std::string& context) {
  if (ok) return;
  std::fprintf(stderr, "INVARIANT BROKEN: %s\n%s\n", what, context.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::Options o;
  o.file = LogPath();
  o.verbose = 2;
  std::remove(o.file.c_str());
  log::Init(o);
  std::atexit([] { std::remove(LogPath().c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  SessionPolicy policy;
  policy.helo_name = "relay.test";
  policy.tls_level = static_cast<TlsLevel>(data[0] % 6);
  policy.allow_plaintext_auth = data[1] & 1;
  policy.auth_soft_bounce = data[1] & 2;
  policy.skip_5xx_greeting = data[1] & 4;
  policy.wrappermode = data[1] & 8;
  policy.dry_run = data[1] & 16;
  policy.trace = true;
  policy.sasl_options_plain = policy.sasl_options_tls = policy.sasl_options_verified = "noanonymous";
  const bool with_credentials = data[2] & 1;
  static const Secret password_secret{std::string_view(kPassword)};
  if (with_credentials) {
    policy.sasl_username = std::string(kUser);
    policy.known_password = &password_secret;  // as DeliveryAttempt sets it from the map
  }
  policy.sasl_factory = [](unsigned, bool) -> Result<std::unique_ptr<SaslClient>> {
    return std::unique_ptr<SaslClient>(new PlainClient);
  };
  Envelope env{"sender@example.org", {"a@example.com"}, std::nullopt, {}};
  for (int i = 0; i < data[3] % 3; ++i) env.recipients.push_back("r" + std::to_string(i) + "@example.com");

  // The log sink appends (O_APPEND): emptied here, it holds this run only.
  if (truncate(LogPath().c_str(), 0) != 0) std::abort();
  HostileTransport t(in.substr(4));
  Session s(t, "mx.test[192.0.2.1]", 25, policy);
  testing::StringSource message("Subject: fuzz\n\nbody\n.\n");
  auto start = std::chrono::steady_clock::now();
  Deadline overall = Deadline::After(std::chrono::milliseconds(2000));
  AttemptResult r = s.Run(env, message, overall);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::string status = r.failure ? r.failure->dsn() + " " + r.failure->text() : "delivered " + r.final_reply;
  Check(took < 2.5, "ran past its deadline", status);
  Check(r.delivered || r.failure.has_value(), "neither delivered nor failed", status);
  if (r.delivered && !policy.dry_run) {
    Check(t.dot_sent && t.reply_after_dot >= 200 && t.reply_after_dot < 300, "delivered without a 2xx to the final dot",
          status);
  }
  if (r.failure && r.failure->permanent()) Check(t.any_5xx, "bounced without a 5xx from the server", status);
  if (t.auth_sent) {
    Check(with_credentials, "AUTH without credentials", status);
    Check(!t.auth_without_tls || policy.allow_plaintext_auth, "AUTH in plaintext", status);
    Check(!t.auth_without_tls || !TlsRequired(policy.tls_level), "AUTH before the required TLS", status);
  }
  std::string log;
  {
    std::ifstream f(LogPath());
    std::stringstream ss;
    ss << f.rdbuf();
    log = ss.str();
  }
  // Without credentials the session never holds the password: a server that
  // happens to send it is not a leak of ours.
  for (const std::string& form : with_credentials ? SecretForms() : std::vector<std::string>()) {
    if (r.failure) {
      Check(r.failure->text().find(form) == std::string::npos, "secret in the status text", status);
      Check(r.failure->detail().find(form) == std::string::npos, "secret in the failure detail", r.failure->detail());
    }
    Check(log.find(form) == std::string::npos, "secret in the log", log.substr(0, 2000));
  }
  return 0;
}
