#include "tls/ca_bundle.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace authrelay {
namespace {

// One PEM block of the bundle: its base64 text until first needed, then
// its DER and subject name.
struct Entry {
  std::string_view base64;  // points into Bundle::text
  bool trusted_form = false;  // "TRUSTED CERTIFICATE" (OpenSSL's X509_AUX)
  std::string der;
  X509_NAME* subject = nullptr;
  bool added = false;  // already in the X509_STORE
};

struct Bundle {
  std::string path;
  std::string text;
  std::vector<Entry> entries;
  bool decoded = false;
  ~Bundle() {
    for (Entry& e : entries) X509_NAME_free(e.subject);
  }
};

// Reads one DER tag-length header at p; returns the content length and sets
// *header to the header size, or -1 if malformed.
long DerHeader(const unsigned char* p, std::size_t avail, unsigned char* tag, std::size_t* header) {
  if (avail < 2) return -1;
  *tag = p[0];
  std::size_t len = p[1];
  std::size_t h = 2;
  if (len & 0x80) {
    std::size_t n = len & 0x7f;
    if (n == 0 || n > 4 || avail < 2 + n) return -1;
    len = 0;
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | p[2 + i];
    h += n;
  }
  if (len > avail - h) return -1;
  *header = h;
  return static_cast<long>(len);
}

// The subject Name (tag, length and content) inside a DER certificate:
// Certificate { TBSCertificate { [0] version?, serial, signature, issuer,
// validity, subject, ... } ... } (RFC 5280 §4.1).
std::string_view SubjectOf(std::string_view der) {
  auto p = reinterpret_cast<const unsigned char*>(der.data());
  std::size_t avail = der.size(), h = 0;
  unsigned char tag = 0;
  long len = DerHeader(p, avail, &tag, &h);  // Certificate
  if (len < 0 || tag != 0x30) return {};
  p += h; avail = static_cast<std::size_t>(len);
  len = DerHeader(p, avail, &tag, &h);  // TBSCertificate
  if (len < 0 || tag != 0x30) return {};
  p += h; avail = static_cast<std::size_t>(len);
  for (int field = 0; field < 6; ++field) {
    len = DerHeader(p, avail, &tag, &h);
    if (len < 0) return {};
    if (field == 0 && tag != 0xa0) ++field;  // no explicit version: v1
    if (field == 5) {
      if (tag != 0x30) return {};
      return std::string_view(reinterpret_cast<const char*>(p), h + static_cast<std::size_t>(len));
    }
    p += h + static_cast<std::size_t>(len);
    avail -= h + static_cast<std::size_t>(len);
  }
  return {};
}

// Finds the PEM certificate blocks; no decoding yet.
void Scan(Bundle& b) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  std::string_view text = b.text;
  std::size_t pos = 0;
  while ((pos = text.find(kBegin, pos)) != std::string_view::npos) {
    std::size_t label_end = text.find("-----", pos + kBegin.size());
    if (label_end == std::string_view::npos) break;
    std::string_view label = text.substr(pos + kBegin.size(), label_end - pos - kBegin.size());
    std::size_t body = text.find('\n', label_end);
    if (body == std::string_view::npos) break;
    std::string end_marker = "-----END " + std::string(label) + "-----";
    std::size_t end = text.find(end_marker, body);
    if (end == std::string_view::npos) break;
    if (label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE") {
      Entry e;
      e.base64 = text.substr(body + 1, end - body - 1);
      e.trusted_form = label == "TRUSTED CERTIFICATE";
      b.entries.push_back(std::move(e));
    }
    pos = end + end_marker.size();
  }
}

// Decodes every block's DER and subject name (cheap: no key parsing).
void Decode(Bundle& b) {
  b.decoded = true;
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!ctx) return;
  for (Entry& e : b.entries) {
    e.der.resize(e.base64.size() / 4 * 3 + 3);
    int out = 0, tail = 0;
    auto dst = reinterpret_cast<unsigned char*>(e.der.data());
    EVP_DecodeInit(ctx.get());
    if (EVP_DecodeUpdate(ctx.get(), dst, &out, reinterpret_cast<const unsigned char*>(e.base64.data()),
                         static_cast<int>(e.base64.size())) < 0 ||
        EVP_DecodeFinal(ctx.get(), dst + out, &tail) < 0) {
      e.der.clear();
      continue;
    }
    e.der.resize(static_cast<std::size_t>(out + tail));
    std::string_view name = SubjectOf(e.der);
    if (name.empty()) continue;
    auto p = reinterpret_cast<const unsigned char*>(name.data());
    e.subject = d2i_X509_NAME(nullptr, &p, static_cast<long>(name.size()));
  }
  ERR_clear_error();
}

int GetBySubject(X509_LOOKUP* lookup, X509_LOOKUP_TYPE type, const X509_NAME* name, X509_OBJECT* ret) {
  if (type != X509_LU_X509) return 0;  // no CRLs from bundles, as smtp(8) by default
  auto* b = static_cast<Bundle*>(X509_LOOKUP_get_method_data(lookup));
  if (!b) return 0;
  if (!b->decoded) Decode(*b);
  X509_STORE* store = X509_LOOKUP_get_store(lookup);
  bool matched = false;
  for (Entry& e : b->entries) {
    if (!e.subject || X509_NAME_cmp(e.subject, name) != 0) continue;
    matched = true;
    if (e.added) continue;
    auto p = reinterpret_cast<const unsigned char*>(e.der.data());
    X509* x = e.trusted_form ? d2i_X509_AUX(nullptr, &p, static_cast<long>(e.der.size()))
                             : d2i_X509(nullptr, &p, static_cast<long>(e.der.size()));
    if (!x) continue;
    // The store keeps every match (cross-signed roots share a subject), so
    // OpenSSL's later searches of its own cache see them all.
    X509_STORE_add_cert(store, x);
    X509_free(x);
    e.added = true;
  }
  ERR_clear_error();
  if (!matched) return 0;
  // OpenSSL's own lookups hand back a borrowed reference to the store's
  // object (the caller takes its own reference and never frees `ret`), so
  // we do the same: set1 takes a reference, the store keeps the cert alive.
  X509_STORE_lock(store);
  X509_OBJECT* held = X509_OBJECT_retrieve_by_subject(X509_STORE_get0_objects(store), X509_LU_X509, name);
  X509* cert = held ? X509_OBJECT_get0_X509(held) : nullptr;
  X509_STORE_unlock(store);
  if (!cert || !X509_OBJECT_set1_X509(ret, cert)) return 0;
  X509_free(cert);
  return 1;
}

void FreeBundle(X509_LOOKUP* lookup) {
  delete static_cast<Bundle*>(X509_LOOKUP_get_method_data(lookup));
  X509_LOOKUP_set_method_data(lookup, nullptr);
}

X509_LOOKUP_METHOD* LazyMethod() {
  // Made once and kept for the life of the process (OpenSSL refers to it
  // from every lookup made with it).
  static X509_LOOKUP_METHOD* method = [] {
    X509_LOOKUP_METHOD* m = X509_LOOKUP_meth_new("authrelay lazy CA bundle");
    if (m) {
      X509_LOOKUP_meth_set_get_by_subject(m, GetBySubject);
      X509_LOOKUP_meth_set_free(m, FreeBundle);
    }
    return m;
  }();
  return method;
}

bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    *error = path + " is not a regular file";
    return false;
  }
  out->resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out->size()) {
    ssize_t n = read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  out->resize(got);
  return true;
}

}  // namespace

bool AddLazyCaBundle(X509_STORE* store, const std::string& path, std::string* error) {
  auto bundle = std::make_unique<Bundle>();
  bundle->path = path;
  if (!ReadFile(path, &bundle->text, error)) return false;
  Scan(*bundle);
  if (bundle->entries.empty()) {
    *error = "no PEM certificates in " + path;
    return false;
  }
  X509_LOOKUP_METHOD* method = LazyMethod();
  X509_LOOKUP* lookup = method ? X509_STORE_add_lookup(store, method) : nullptr;
  if (!lookup) {
    *error = "cannot add a certificate lookup for " + path;
    return false;
  }
  // A second call for the same store returns the same lookup: keep the
  // first bundle's data and add this one's entries to it.
  if (auto* existing = static_cast<Bundle*>(X509_LOOKUP_get_method_data(lookup))) {
    // Entries point into their own text: move the text in and rescan.
    existing->text += "\n" + bundle->text;
    for (Entry& e : existing->entries) X509_NAME_free(e.subject);
    existing->entries.clear();
    existing->decoded = false;
    Scan(*existing);
    return true;
  }
  X509_LOOKUP_set_method_data(lookup, bundle.release());
  return true;
}

bool AddLazySystemCas(X509_STORE* store, std::string* error) {
  const char* dir = std::getenv(X509_get_default_cert_dir_env());
  if (!dir) dir = X509_get_default_cert_dir();
  const char* file = std::getenv(X509_get_default_cert_file_env());
  if (!file) file = X509_get_default_cert_file();
  bool any = false;
  struct stat st{};
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
    // OpenSSL's hashed-directory lookup already loads on demand.
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
    if (lookup && X509_LOOKUP_add_dir(lookup, dir, X509_FILETYPE_PEM) == 1) any = true;
  }
  std::string why;
  if (stat(file, &st) == 0 && AddLazyCaBundle(store, file, &why)) any = true;
  if (!any) {
    *error = std::string("no CA certificates in ") + dir + " or " + file + (why.empty() ? "" : " (" + why + ")");
  }
  ERR_clear_error();
  return any;
}

}  // namespace authrelay
