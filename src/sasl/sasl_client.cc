#include "sasl/sasl_client.h"

#include <sasl/sasl.h>

#include <algorithm>
#include <cstring>

#include "config/main_cf.h"
#include "core/sanitize.h"

namespace authrelay {

SaslLibrary::SaslLibrary() { ok_ = sasl_client_init(nullptr) == SASL_OK; }

SaslLibrary& SaslLibrary::Global() {
  static SaslLibrary library;
  return library;
}
SaslLibrary::~SaslLibrary() {
  if (ok_) sasl_client_done();
}

std::string SaslLibrary::AvailableMechanisms() const {
  const char** mechs = sasl_global_listmech();
  std::string out;
  for (int i = 0; mechs && mechs[i]; ++i) {
    if (!out.empty()) out += ' ';
    out += mechs[i];
  }
  return out;
}

Result<unsigned> ParseSaslSecurityOptions(const std::string& parameter, const std::string& value) {
  unsigned flags = 0;
  for (const std::string& word : SplitList(value)) {
    std::string w = Lowercase(word);
    if (w == "noplaintext") flags |= SASL_SEC_NOPLAINTEXT;
    else if (w == "noactive") flags |= SASL_SEC_NOACTIVE;
    else if (w == "nodictionary") flags |= SASL_SEC_NODICTIONARY;
    else if (w == "noanonymous") flags |= SASL_SEC_NOANONYMOUS;
    else if (w == "mutual_auth") flags |= SASL_SEC_MUTUAL_AUTH;
    else if (w == "forward_secrecy") flags |= SASL_SEC_FORWARD_SECRECY;
    else {
      std::string what = parameter + ": unknown SASL security option \"" + Printable(word, 40) +
                         "\" (use noplaintext, noactive, nodictionary, noanonymous, mutual_auth)";
      return ConfigFailure(what);
    }
  }
  return flags;
}

std::vector<std::string> FilterMechanisms(const std::vector<std::string>& offered, const std::string& filter,
                                          std::vector<std::string>* dropped) {
  std::vector<std::string> words = SplitList(filter);
  if (words.empty()) return offered;
  std::vector<std::string> allow, deny;
  for (auto& w : words) {
    std::string u;
    for (char c : w) u.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (!u.empty() && u[0] == '!') deny.push_back(u.substr(1)); else allow.push_back(u);
  }
  std::vector<std::string> kept;
  for (const auto& m : offered) {
    bool denied = std::find(deny.begin(), deny.end(), m) != deny.end();
    bool allowed = allow.empty() || std::find(allow.begin(), allow.end(), m) != allow.end();
    if (!denied && allowed) kept.push_back(m);
    else if (dropped) dropped->push_back(m + ": excluded by smtp_sasl_mechanism_filter");
  }
  return kept;
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
    OPENSSL_cleanse(secret_buf_.data(), secret_buf_.size());
  }
  CyrusSaslClient(const CyrusSaslClient&) = delete;
  CyrusSaslClient& operator=(const CyrusSaslClient&) = delete;

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
    if (out) step.response = std::string(out, out_len);
    return step;
  }

  Result<std::string> Step(const std::string& challenge) override {
    const char* out = nullptr;
    unsigned out_len = 0;
    sasl_interact_t* interact = nullptr;
    int rc = sasl_client_step(conn_, challenge.data(), static_cast<unsigned>(challenge.size()), &interact, &out,
                              &out_len);
    if (rc != SASL_OK && rc != SASL_CONTINUE) return Error("sasl_client_step", rc);
    return out ? std::string(out, out_len) : std::string();
  }

 private:
  Failure Error(const char* where, int rc) const {
    std::string detail = std::string(where) + ": " + sasl_errstring(rc, nullptr, nullptr);
    if (conn_) {
      if (const char* d = sasl_errdetail(conn_)) detail += " (" + Printable(d, 200) + ")";
    }
    return Failure(rc == SASL_NOMECH ? "4.7.0" : "4.7.0", rc == SASL_NOMECH ? "no mechanism available" : "SASL client error",
                   detail);
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

  std::string username_;
  std::string secret_buf_;
  sasl_callback_t callbacks_[4];
  sasl_conn_t* conn_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<SaslClient>> NewCyrusSaslClient(const std::string& server_host, std::string username,
                                                       const Secret& password, unsigned security_flags) {
  if (!SaslLibrary::Global().ok()) {
    return Failure("4.7.0", "SASL client error", "sasl_client_init failed (is libsasl2-modules installed?)");
  }
  auto client = std::make_unique<CyrusSaslClient>(std::move(username), password);
  if (Status s = client->Init(server_host, security_flags); !s.ok()) return s.failure();
  return std::unique_ptr<SaslClient>(std::move(client));
}

}  // namespace authrelay
