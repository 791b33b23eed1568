// The lazy CA bundle lookup (tls/ca_bundle.h) must trust exactly what
// loading the whole bundle trusts, while decoding only what it needs.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "protocol/test_client.h"
#include "tls/ca_bundle.h"

using namespace authrelay;
using namespace authrelay::testing;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

X509* ReadCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  BOOST_REQUIRE(f);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  BOOST_REQUIRE(x);
  return x;
}

// Verifies leaf against a store holding `bundle` (lazy) and returns
// OpenSSL's verdict.
int VerifyWith(const std::string& bundle_path, const std::string& leaf_path, int* objects_after = nullptr) {
  X509_STORE* store = X509_STORE_new();
  std::string error;
  BOOST_REQUIRE_MESSAGE(AddLazyCaBundle(store, bundle_path, &error), error);
  BOOST_CHECK_EQUAL(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)), 0);  // nothing decoded yet
  X509* leaf = ReadCert(leaf_path);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_verify_cert(ctx);
  int rc = X509_STORE_CTX_get_error(ctx);
  if (objects_after) *objects_after = sk_X509_OBJECT_num(X509_STORE_get0_objects(store));
  X509_STORE_CTX_free(ctx);
  X509_free(leaf);
  X509_STORE_free(store);
  return rc;
}

struct Bundle {
  std::string path = "/tmp/authrelay-ca-bundle-test-" + std::to_string(getpid()) + ".pem";
  explicit Bundle(const std::string& text) { std::ofstream(path) << text; }
  ~Bundle() { std::remove(path.c_str()); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(lazy_ca_bundle)

BOOST_AUTO_TEST_CASE(trusts_the_test_ca_among_many_and_decodes_only_it) {
  // The test CA in the middle of a big real-world bundle (when the system
  // has one), with a comment and a non-certificate block around it.
  std::string system = Slurp("/etc/ssl/certs/ca-certificates.crt");
  std::string ours = Slurp(Certs() + "/ca.pem");
  std::string half = system.substr(0, system.size() / 2);
  half = half.substr(0, half.rfind("-----END CERTIFICATE-----") == std::string::npos
                            ? 0
                            : half.rfind("-----END CERTIFICATE-----") + 26);
  Bundle b("# a comment\n" + half + "\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n" + ours + "\n" +
           system.substr(half.size()));
  int objects = 0;
  BOOST_CHECK_EQUAL(VerifyWith(b.path, Certs() + "/server.pem", &objects), X509_V_OK);
  BOOST_CHECK_EQUAL(objects, 1);  // only the issuer was decoded into the store
}

BOOST_AUTO_TEST_CASE(a_bundle_without_the_issuer_does_not_verify) {
  Bundle b(Slurp(Certs() + "/selfsigned.pem"));
  BOOST_CHECK_EQUAL(VerifyWith(b.path, Certs() + "/server.pem"), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

BOOST_AUTO_TEST_CASE(expired_leaf_is_still_rejected) {
  Bundle b(Slurp(Certs() + "/ca.pem"));
  BOOST_CHECK_EQUAL(VerifyWith(b.path, Certs() + "/expired.pem"), X509_V_ERR_CERT_HAS_EXPIRED);
}

BOOST_AUTO_TEST_CASE(missing_or_empty_bundles_are_configuration_errors) {
  X509_STORE* store = X509_STORE_new();
  std::string error;
  BOOST_CHECK(!AddLazyCaBundle(store, "/nonexistent/ca.pem", &error));
  BOOST_CHECK_NE(error.find("cannot open /nonexistent/ca.pem"), std::string::npos);
  Bundle empty("no certificates here\n");
  BOOST_CHECK(!AddLazyCaBundle(store, empty.path, &error));
  BOOST_CHECK_NE(error.find("no PEM certificates"), std::string::npos);
  // Truncated PEM: the block is found, its base64 is garbage; nothing trusted.
  Bundle broken("-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n");
  BOOST_CHECK(AddLazyCaBundle(store, broken.path, &error));
  X509_STORE_free(store);
  BOOST_CHECK_EQUAL(VerifyWith(broken.path, Certs() + "/server.pem"), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

BOOST_AUTO_TEST_SUITE_END()
