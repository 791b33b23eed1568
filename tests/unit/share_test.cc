// The self-contained SHA-256/HMAC that names shared sessions, against the
// FIPS 180-4 and RFC 4231 vectors and OpenSSL for every length around the
// padding boundaries; and the key material's framing and fields.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/test/unit_test.hpp>

#include "share/key.h"
#include "share/share.h"

using namespace authrelay::share;

BOOST_AUTO_TEST_SUITE(share_hash)

BOOST_AUTO_TEST_CASE(sha256_vectors) {
  BOOST_TEST(Hex(Sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(Hex(Sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(Hex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

BOOST_AUTO_TEST_CASE(hmac_rfc4231_case2) {
  BOOST_TEST(Hex(HmacSha256("Jefe", "what do ya want for nothing?")) ==
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(matches_openssl_at_every_length) {
  std::string data, key;
  for (int n = 0; n < 300; ++n) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    BOOST_TEST_REQUIRE(Sha256(data) == std::string(reinterpret_cast<char*>(md), len), "length " << n);
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), md, &len);
    BOOST_TEST_REQUIRE(HmacSha256(key, data) == std::string(reinterpret_cast<char*>(md), len), "length " << n);
    data.push_back(static_cast<char>(n * 7 + 1));
    key.push_back(static_cast<char>(n * 13 + 5));
  }
}

BOOST_AUTO_TEST_CASE(key_material_fields_cannot_run_together) {
  KeyMaterial a, b;
  a.Add("x", "ab");
  a.Add("y", "c");
  b.Add("x", "a");
  b.Add("y", "bc");
  BOOST_TEST(a.text() != b.text());
}

// A session opened through one egress proxy is not another proxy's (nor a
// direct one's): through a proxy the endpoint names only the server.
BOOST_AUTO_TEST_CASE(key_material_parts_egress_proxies) {
  authrelay::Settings s;
  authrelay::NextHop hop;
  hop.verbatim = "[mx.test]:587";
  authrelay::Endpoint ep = authrelay::ProxiedEndpoint("mx.test", 587);
  authrelay::TlsPolicy tls;
  auto a = authrelay::ParseProxyUrl("socks5://127.0.0.1:1080", "test", true);
  auto b = authrelay::ParseProxyUrl("socks5://127.0.0.1:1081", "test", true);
  auto a_login = authrelay::ParseProxyUrl("socks5://u:p@127.0.0.1:1080", "test", true);
  BOOST_REQUIRE(a.ok() && b.ok() && a_login.ok());
  auto text = [&](const authrelay::ProxyConfig* p) {
    return SessionKeyMaterial(s, hop, ep, nullptr, tls, false, p).text();
  };
  BOOST_TEST(text(&a.value()) == text(&a.value()));
  BOOST_TEST(text(&a.value()) != text(&b.value()));
  BOOST_TEST(text(&a.value()) != text(&a_login.value()));
  BOOST_TEST(text(&a.value()) != text(nullptr));
}

BOOST_AUTO_TEST_SUITE_END()
