#include "oauth/http_client.h"

#include <algorithm>

#include <curl/curl.h>
#include <dlfcn.h>

#include "core/sanitize.h"

namespace authrelay {
namespace {

constexpr std::size_t kMaxBody = 1 << 20;

// The few libcurl calls we make, resolved on first use (see CMakeLists.txt).
struct Curl {
  CURL* (*easy_init)() = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  std::string error;

  static const Curl& Get() {
    static const Curl api = [] {
      Curl c;
      void* lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
      if (!lib) {
        const char* e = dlerror();
        c.error = std::string("cannot load libcurl.so.4 (install libcurl4): ") + (e ? e : "");
        return c;
      }
      auto sym = [&](auto& fn, const char* name) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
        if (!fn && c.error.empty()) c.error = std::string("libcurl has no ") + name;
      };
      sym(c.easy_init, "curl_easy_init");
      sym(c.easy_setopt, "curl_easy_setopt");
      sym(c.easy_perform, "curl_easy_perform");
      sym(c.easy_getinfo, "curl_easy_getinfo");
      sym(c.easy_cleanup, "curl_easy_cleanup");
      sym(c.easy_strerror, "curl_easy_strerror");
      return c;
    }();
    return api;
  }
};

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kMaxBody) return 0;  // makes curl fail: too big
  body->append(data, size * n);
  return size * n;
}

}  // namespace

TokenHttpPost MakeCurlPost(std::string ca_file, std::string ca_path, long timeout_seconds,
                           std::shared_ptr<const Secret> proxy) {
  return [ca_file, ca_path, timeout_seconds, proxy](const std::string& url, const Secret& form) -> Result<TokenResponse> {
    const Curl& api = Curl::Get();
    if (!api.error.empty()) return Failure("4.7.0", "cannot start the HTTP client", api.error);
    CURL* c = api.easy_init();
    if (!c) return Failure("4.7.0", "cannot start the HTTP client");
    TokenResponse response;
    char error[CURL_ERROR_SIZE] = "";
    api.easy_setopt(c, CURLOPT_URL, url.c_str());
    api.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    api.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    api.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ca_file.empty()) api.easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
    if (!ca_path.empty()) api.easy_setopt(c, CURLOPT_CAPATH, ca_path.c_str());
    api.easy_setopt(c, CURLOPT_TIMEOUT, timeout_seconds);
    if (proxy) api.easy_setopt(c, CURLOPT_PROXY, proxy->Reveal().c_str());
    api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    api.easy_setopt(c, CURLOPT_POSTFIELDS, form.Reveal().c_str());
    api.easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(form.size()));
    api.easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
    api.easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
    api.easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    api.easy_setopt(c, CURLOPT_USERAGENT, "authrelay/" AUTHRELAY_VERSION);
    CURLcode rc = api.easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK) api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    api.easy_cleanup(c);
    if (rc != CURLE_OK) {
      std::string why = error[0] ? error : api.easy_strerror(rc);
      std::string host = url.substr(0, url.find('/', 8));
      return Failure("4.7.0", "cannot reach the token endpoint " + Printable(host, 200), Printable(why, 300));
    }
    response.http_status = static_cast<int>(status);
    return response;
  };
}

TokenHttpPost MakeCurlPostWithin(std::string ca_file, std::string ca_path, long timeout_seconds,
                                 std::shared_ptr<const Secret> proxy, Deadline deadline) {
  return [ca_file, ca_path, timeout_seconds, proxy, deadline](const std::string& url,
                                                              const Secret& form) -> Result<TokenResponse> {
    long left = deadline.RemainingMs() / 1000;
    if (left < 1) return Failure("4.4.2", "no time left before the delivery deadline to call the token endpoint");
    return MakeCurlPost(ca_file, ca_path, std::min(timeout_seconds, left), proxy)(url, form);
  };
}

}  // namespace authrelay
