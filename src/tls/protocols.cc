// smtp_tls_protocols / smtp_tls_mandatory_protocols, apart from
// tls_client.cc: the policy is resolved on every delivery, and one over a
// held session must not link (and so load) OpenSSL's libraries for it.
// Only OpenSSL's version and option constants are used here.
#include <openssl/ssl.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/list.h"
#include "core/sanitize.h"
#include "tls/tls_client.h"

namespace authrelay {

namespace {

int VersionOf(std::string_view name) {
  std::string n = Lowercase(name);
  if (n == "sslv2") return SSL2_VERSION;
  if (n == "sslv3") return SSL3_VERSION;
  if (n == "tlsv1") return TLS1_VERSION;
  if (n == "tlsv1.1") return TLS1_1_VERSION;
  if (n == "tlsv1.2") return TLS1_2_VERSION;
  if (n == "tlsv1.3") return TLS1_3_VERSION;
  return 0;
}

}  // namespace

bool ProtocolRange(std::string_view protocols, int* floor, int* ceiling, long* no_options) {
  // Postfix's syntax (3.6 and later): tokens separated by commas, white
  // space or colons; ">=v" and "<=v" set the floor and ceiling (a name or a
  // hex number); "!v" excludes v; plain names are an inclusion list, so
  // every known protocol not named is excluded. OpenSSL gets exactly that:
  // floor, ceiling and SSL_OP_NO_* options; it treats an exclusion inside
  // the range (and a version its security level forbids) as the end of the
  // usable range, as it does for smtp(8).
  struct Known {
    const char* name;
    long no_option;
  };
  static const Known kKnown[] = {{"sslv2", 0},
                                 {"sslv3", SSL_OP_NO_SSLv3},
                                 {"tlsv1", SSL_OP_NO_TLSv1},
                                 {"tlsv1.1", SSL_OP_NO_TLSv1_1},
                                 {"tlsv1.2", SSL_OP_NO_TLSv1_2},
                                 {"tlsv1.3", SSL_OP_NO_TLSv1_3}};
  auto option_of = [&](std::string_view name, long* out) {
    std::string n = Lowercase(name);
    for (const Known& k : kKnown) {
      if (n == k.name) {
        *out = k.no_option;
        return true;
      }
    }
    return false;
  };
  auto version_of = [](std::string_view tok, int* out) {
    int v = VersionOf(tok);
    if (Lowercase(tok) == "none") v = 0;
    else if (v == 0) {
      std::string s(tok);
      char* end = nullptr;
      unsigned long x = std::strtoul(s.c_str(), &end, 16);
      if (s.empty() || *end != '\0' || x > 0xffff) return false;
      v = static_cast<int>(x);
    }
    *out = v;
    return true;
  };
  int lo = 0, hi = 0;
  long exclude = 0, include = 0;
  bool any_include = false;
  std::string cur;
  std::vector<std::string> tokens;
  for (char c : protocols) {
    if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (!cur.empty()) tokens.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) tokens.push_back(cur);
  for (const std::string& tok : tokens) {
    long opt = 0;
    if (tok.rfind(">=", 0) == 0) {
      if (!version_of(std::string_view(tok).substr(2), &lo)) return false;
    } else if (tok.rfind("<=", 0) == 0) {
      if (!version_of(std::string_view(tok).substr(2), &hi)) return false;
    } else if (tok[0] == '!') {
      if (!option_of(std::string_view(tok).substr(1), &opt)) return false;
      exclude |= opt;
    } else {
      if (!option_of(tok, &opt)) return false;
      include |= opt;
      any_include = true;
    }
  }
  if (any_include) {
    for (const Known& k : kKnown) {
      if (!(include & k.no_option)) exclude |= k.no_option;
    }
  }
  *floor = lo;
  *ceiling = hi;
  if (no_options) *no_options = exclude;
  return true;
}

bool AdmitsPreTls12(int floor, int ceiling, long no_options) {
  struct Legacy {
    int version;
    long no_option;
  };
  static const Legacy kLegacy[] = {{TLS1_VERSION, SSL_OP_NO_TLSv1}, {TLS1_1_VERSION, SSL_OP_NO_TLSv1_1}};
  for (const Legacy& v : kLegacy) {
    bool in_range = (floor == 0 || v.version >= floor) && (ceiling == 0 || v.version <= ceiling);
    if (in_range && !(no_options & v.no_option)) return true;
  }
  return false;
}

}  // namespace authrelay
