// Lazy trust anchors from a PEM CA bundle.
//
// SSL_CTX_load_verify_locations() parses every certificate of a bundle up
// front: Debian's ca-certificates.crt (~140 roots) costs ~20 ms of CPU, more
// than the rest of a delivery, and a resumed TLS session needs none of it.
// This lookup reads the file when it is added (so a missing or empty file
// is still a clear configuration error), but decodes certificates only when
// OpenSSL asks for an issuer, and then only those whose subject name equals
// the one asked for (X509_NAME_cmp, OpenSSL's own comparison). Trust is
// exactly what loading the whole file would give.
#pragma once

#include <openssl/x509_vfy.h>

#include <string>

namespace authrelay {

// Adds the bundle at `path` to `store` as a lazy lookup. False, with *error
// set to a one-line reason, when the file cannot be read or holds no
// certificate.
bool AddLazyCaBundle(X509_STORE* store, const std::string& path, std::string* error);

// Adds OpenSSL's default trust store (the hashed directory and the bundle
// file, or $SSL_CERT_DIR / $SSL_CERT_FILE), both looked up lazily. False if
// neither exists.
bool AddLazySystemCas(X509_STORE* store, std::string* error);

}  // namespace authrelay
