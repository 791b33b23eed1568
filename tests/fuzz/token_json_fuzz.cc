// OAuth JSON (nlohmann/json through core/json.h): token stores as read
// from disk (new and old number-as-string forms, and written back), token-endpoint answers
// (success, errors, device-flow polling) and device authorizations. Any bytes: no crash, no
// exception; an answer is "ok" only with an access token; the error text
// that reaches logs and bounces is printable and bounded.
#include <cstdint>
#include <string>

#include "oauth/token_store.h"

namespace {

void CheckPrintable(const std::string& s, std::size_t limit) {
  if (s.size() > limit) __builtin_trap();
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto store = authrelay::ParseTokenStore("/fuzz/store.json", text);
  if (store.ok()) {
    if (store.value().token_endpoint.empty() || store.value().client_id.empty()) __builtin_trap();
    if (store.value().expires_at < 0 || store.value().refreshed_at < 0) __builtin_trap();
    // What we write, we read back the same (old string-number stores come
    // back with JSON numbers).
    auto again = authrelay::ParseTokenStore("/fuzz/store.json", authrelay::TokenStoreJson(store.value()).Reveal());
    if (!again.ok() || again.value().expires_at != store.value().expires_at ||
        again.value().refresh_token.Reveal() != store.value().refresh_token.Reveal() ||
        again.value().token_endpoint != store.value().token_endpoint) {
      __builtin_trap();
    }
  }
  for (int status : {200, 400, 401}) {
    authrelay::TokenAnswer a = authrelay::ParseTokenAnswer({status, text});
    if (a.ok && (status != 200 || a.access_token.empty())) __builtin_trap();
    if (a.expires_in < 0) __builtin_trap();
    CheckPrintable(a.error, 100 + 3);  // Printable adds "..." when it cuts
    CheckPrintable(a.description, 300 + 3);
    CheckPrintable(a.Said(), 420);
    authrelay::DeviceAuthorization d = authrelay::ParseDeviceAuthorization({status, text});
    if (d.ok && (status != 200 || d.device_code.empty() || d.user_code.empty())) __builtin_trap();
    if (d.interval < 1 || d.interval > 60 || d.expires_in < 30 || d.expires_in > 3600) __builtin_trap();
    CheckPrintable(d.user_code, 40 + 3);
    CheckPrintable(d.verification_uri, 200 + 3);
  }
  return 0;
}
