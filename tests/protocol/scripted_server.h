// A scripted SMTP server on 127.0.0.1 for protocol tests: one connection,
// a fixed list of steps run on a thread, real OpenSSL on the server side.
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace authrelay::testing {

class ScriptedServer {
 public:
  ScriptedServer();
  ~ScriptedServer();
  int port() const { return port_; }

  // Script steps (call before Start()).
  ScriptedServer& Send(std::string line);         // adds CRLF
  ScriptedServer& SendRaw(std::string bytes);     // exactly these bytes, one write
  ScriptedServer& Expect(std::string prefix);     // next line must start with prefix
  // max_version: e.g. TLS1_2_VERSION to refuse TLS 1.3 (0 = any).
  ScriptedServer& StartTls(std::string cert, std::string key, int max_version = 0);
  ScriptedServer& ReadData();                     // lines up to "." into data()
  // The client must close the connection without sending anything more;
  // "" or the line it sent goes to Finish().
  ScriptedServer& ExpectClosed();
  // Sends prefix + the last line the client sent (a server that echoes).
  ScriptedServer& SendEcho(std::string prefix);
  ScriptedServer& Close();
  // Hostile pacing: sends `unit` again and again, as fast as the client
  // takes it (Flood) or one byte every `gap_ms` (Trickle), until the client
  // hangs up or `max_seconds` pass. Records how long it went on.
  ScriptedServer& Flood(std::string unit, int max_seconds = 30);
  ScriptedServer& Trickle(std::string bytes, int gap_ms, int max_seconds = 30);

  void Start();
  // Waits for the script to end; returns "" or the first mismatch.
  std::string Finish();
  // Every line the client sent, in order.
  const std::vector<std::string>& received() const { return received_; }
  const std::string& data() const { return data_; }
  // Ask for (and require) a client certificate issued by ca_file.
  void RequireClientCertificate(std::string ca_file) { client_ca_ = std::move(ca_file); }
  const std::string& client_subject() const { return client_subject_; }
  // The SNI name the client sent ("" if none).
  const std::string& sni() const { return sni_; }
  // Use this server context (certificate loaded, session tickets keyed)
  // instead of a new one, so a later server can resume sessions of an
  // earlier one, as one real smarthost would. Not owned.
  void ShareContext(SSL_CTX* ctx) { shared_ctx_ = ctx; }
  bool session_reused() const { return session_reused_; }

 private:
  bool ReadLine(std::string& line);
  bool WriteAll(const std::string& s);
  void Run();

  int listen_fd_ = -1;
  int fd_ = -1;
  int port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  SSL_CTX* shared_ctx_ = nullptr;
  bool session_reused_ = false;
  SSL* ssl_ = nullptr;
  std::string buf_;
  std::vector<std::function<bool()>> steps_;
  std::vector<std::string> received_;
  std::string data_;
  std::string sni_;
  std::string client_ca_;
  std::string client_subject_;
  std::string error_;
  std::thread thread_;
};

}  // namespace authrelay::testing
