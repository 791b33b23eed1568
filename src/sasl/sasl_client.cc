#include "sasl/sasl_client.h"

#include <sasl/sasl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

#include "core/list.h"
#include "core/sanitize.h"

namespace authrelay {

namespace {

// Plugins the current sasl_client_init() may load; empty with
// g_all_plugins set means every one.
std::vector<std::string> g_plugins;
bool g_all_plugins = false;

int VerifyFile(void*, const char* file, sasl_verify_type_t type) noexcept {
  if (type != SASL_VRFY_PLUGIN || g_all_plugins) return SASL_OK;
  std::string_view name(file);
  if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  if (name.substr(0, 3) == "lib") name.remove_prefix(3);
  name = name.substr(0, name.find('.'));
  bool wanted = std::find(g_plugins.begin(), g_plugins.end(), name) != g_plugins.end();
  return wanted ? SASL_OK : SASL_CONTINUE;  // CONTINUE: skip this file
}

}  // namespace

std::string SaslLibrary::PluginFor(const std::string& mechanism) {
  std::string m = mechanism;
  for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (m == "PLAIN") return "plain";
  if (m == "LOGIN") return "login";
  if (m == "ANONYMOUS") return "anonymous";
  if (m == "CRAM-MD5") return "crammd5";
  if (m == "DIGEST-MD5") return "digestmd5";
  if (m.rfind("SCRAM-", 0) == 0) return "scram";
  if (m == "NTLM") return "ntlm";
  if (m == "GSSAPI" || m == "GSS-SPNEGO") return "gssapiv2";
  if (m.rfind("GS2-", 0) == 0) return "gs2";
  if (m == "OTP") return "otp";
  if (m == "SRP") return "srp";
  if (m == "PASSDSS-3DES-1") return "passdss";
  if (m == "EXTERNAL") return "-";  // built into libsasl2
  return "";
}

bool SaslLibrary::Load(const std::vector<std::string>& mechanisms) {
  if (all_) return ok_;
  std::vector<std::string> want = g_plugins;
  bool all = false;
  for (const std::string& m : mechanisms) {
    std::string p = PluginFor(m);
    if (p.empty()) all = true;
    else if (std::find(want.begin(), want.end(), p) == want.end()) want.push_back(p);
  }
  if (ok_ && !all && want.size() == g_plugins.size()) return true;  // nothing new
  if (ok_) sasl_client_done();
  g_plugins = std::move(want);
  g_all_plugins = all;
  static sasl_callback_t callbacks[] = {
      {SASL_CB_VERIFYFILE, reinterpret_cast<int (*)()>(reinterpret_cast<void (*)()>(&VerifyFile)), nullptr},
      {SASL_CB_LIST_END, nullptr, nullptr}};
  ok_ = sasl_client_init(callbacks) == SASL_OK;
  all_ = all;
  return ok_;
}

SaslLibrary& SaslLibrary::Global() {
  static SaslLibrary library;
  return library;
}
SaslLibrary::~SaslLibrary() {
  if (ok_) sasl_client_done();
}

std::string SaslLibrary::AvailableMechanisms() {
  Load({"*all*"});
  const char** mechs = sasl_global_listmech();
  std::string out;
  for (int i = 0; mechs && mechs[i]; ++i) {
    if (!out.empty()) out += ' ';
    out += mechs[i];
  }
  return out;
}

namespace {

// Cyrus stores every callback as int (*)(void); going through void (*)()
// is the sanctioned way to convert function pointer types.
template <class F>
int (*CallbackFn(F f))() {
  return reinterpret_cast<int (*)()>(reinterpret_cast<void (*)()>(f));
}

// The object Cyrus calls back into. Non-movable: Cyrus holds its address.
class CyrusSaslClient final : public SaslClient {
 public:
  CyrusSaslClient(std::string username, const Secret& password) : username_(std::move(username)) {
    // sasl_secret_t is a length followed by the bytes; we own and wipe it.
    secret_buf_.resize(sizeof(sasl_secret_t) + password.size() + 1);
    auto* s = reinterpret_cast<sasl_secret_t*>(secret_buf_.data());
    s->len = password.size();
    std::memcpy(s->data, password.Reveal().data(), password.size());
    callbacks_[0] = {SASL_CB_USER, CallbackFn(&GetSimple), this};
    callbacks_[1] = {SASL_CB_AUTHNAME, CallbackFn(&GetSimple), this};
    callbacks_[2] = {SASL_CB_PASS, CallbackFn(&GetSecret), this};
    callbacks_[3] = {SASL_CB_LIST_END, nullptr, nullptr};
  }
  ~CyrusSaslClient() override {
    if (conn_) sasl_dispose(&conn_);
    WipeBytes(secret_buf_.data(), secret_buf_.size());
  }
  CyrusSaslClient(const CyrusSaslClient&) = delete;
  CyrusSaslClient& operator=(const CyrusSaslClient&) = delete;

  // Remembers where and how to authenticate; the Cyrus connection is made
  // in Start, once the mechanisms (and so the plugins) are known.
  void Prepare(std::string host, unsigned flags) {
    host_ = std::move(host);
    flags_ = flags;
  }

  Status Init(const std::string& host, unsigned flags) {
    int rc = sasl_client_new("smtp", host.c_str(), nullptr, nullptr, callbacks_, 0, &conn_);
    if (rc != SASL_OK) return Error("sasl_client_new", rc);
    sasl_security_properties_t props{};
    props.min_ssf = 0;
    props.max_ssf = 0;  // no SASL security layer, as Postfix
    props.maxbufsize = 0;
    props.security_flags = flags;
    rc = sasl_setprop(conn_, SASL_SEC_PROPS, &props);
    if (rc != SASL_OK) return Error("sasl_setprop", rc);
    return {};
  }

  Result<SaslStep> Start(const std::vector<std::string>& mechanisms) override {
    if (conn_) sasl_dispose(&conn_);
    if (!SaslLibrary::Global().Load(mechanisms)) {
      return Failure("4.7.0", "SASL client error", "sasl_client_init failed (is libsasl2-modules installed?)");
    }
    if (Status s = Init(host_, flags_); !s.ok()) return s.failure();
    std::string list;
    for (const auto& m : mechanisms) list += (list.empty() ? "" : " ") + m;
    const char* out = nullptr;
    unsigned out_len = 0;
    const char* mech = nullptr;
    sasl_interact_t* interact = nullptr;
    int rc = sasl_client_start(conn_, list.c_str(), &interact, &out, &out_len, &mech);
    if (rc != SASL_OK && rc != SASL_CONTINUE) return Error("sasl_client_start", rc);
    SaslStep step;
    step.mechanism = mech ? mech : "";
    if (out) step.response = Secret(std::string_view(out, out_len));
    return step;
  }

  Result<Secret> Step(const std::string& challenge) override {
    const char* out = nullptr;
    unsigned out_len = 0;
    sasl_interact_t* interact = nullptr;
    int rc = sasl_client_step(conn_, challenge.data(), static_cast<unsigned>(challenge.size()), &interact, &out,
                              &out_len);
    if (rc != SASL_OK && rc != SASL_CONTINUE) return Error("sasl_client_step", rc);
    return out ? Secret(std::string_view(out, out_len)) : Secret();
  }

 private:
  Failure Error(const char* where, int rc) const {
    std::string detail = std::string(where) + ": " + sasl_errstring(rc, nullptr, nullptr);
    if (conn_) {
      if (const char* d = sasl_errdetail(conn_)) detail += " (" + Printable(d, 200) + ")";
    }
    return Failure(rc == SASL_NOMECH ? "4.7.0" : "4.7.0", rc == SASL_NOMECH ? "no mechanism available" : "SASL client error",
                   detail)
        .WithCause(rc == SASL_NOMECH ? Cause::kNoSaslMechanism : Cause::kUnclassified);
  }

  static int GetSimple(void* context, int id, const char** result, unsigned* len) noexcept {
    auto* self = static_cast<CyrusSaslClient*>(context);
    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME) return SASL_BADPARAM;
    // Authorization id empty for USER (as Postfix), authentication id = user.
    *result = id == SASL_CB_USER ? "" : self->username_.c_str();
    if (len) *len = static_cast<unsigned>(strlen(*result));
    return SASL_OK;
  }
  static int GetSecret(sasl_conn_t*, void* context, int id, sasl_secret_t** psecret) noexcept {
    if (id != SASL_CB_PASS) return SASL_BADPARAM;
    auto* self = static_cast<CyrusSaslClient*>(context);
    *psecret = reinterpret_cast<sasl_secret_t*>(self->secret_buf_.data());
    return SASL_OK;
  }

  std::string host_;
  unsigned flags_ = 0;
  std::string username_;
  std::string secret_buf_;
  sasl_callback_t callbacks_[4];
  sasl_conn_t* conn_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<SaslClient>> NewCyrusSaslClient(const std::string& server_host, std::string username,
                                                       const Secret& password, unsigned security_flags) {
  auto client = std::make_unique<CyrusSaslClient>(std::move(username), password);
  client->Prepare(server_host, security_flags);
  return std::unique_ptr<SaslClient>(std::move(client));
}

}  // namespace authrelay
