// The self-contained SHA-256/HMAC that names shared sessions, against the
// FIPS 180-4 and RFC 4231 vectors and OpenSSL for every length around the
// padding boundaries; and the key material's framing and fields.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/test/unit_test.hpp>

#include "core/base64.h"
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

// All seven RFC 4231 cases: a short key, keys around and above the block
// size (6 and 7 hash a 131-byte key first), data longer than a block, and
// case 5's output truncated to 128 bits.
BOOST_AUTO_TEST_CASE(hmac_rfc4231_vectors) {
  std::string key4;
  for (char c = 1; c <= 25; ++c) key4.push_back(c);
  const std::string big_key(131, '\xaa');
  struct Vector {
    std::string key, data;
    const char* mac;  // hex; case 5 gives only the first 16 bytes
  };
  const Vector vectors[] = {
      {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {key4, std::string(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {std::string(20, '\x0c'), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},
      {big_key, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {big_key,
       "This is a test using a larger than block-size key and a larger than block-size data. The key needs to "
       "be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (int n = 1; const auto& v : vectors) {
    std::string mac = Hex(HmacSha256(v.key, v.data));
    BOOST_TEST(mac.substr(0, std::string(v.mac).size()) == v.mac, "RFC 4231 case " << n);
    ++n;
  }
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

// Base64 moved off OpenSSL with the digests (core/base64.h): RFC 4648's
// vectors, every byte value at lengths around the padding, and the strict
// decoding SASL needs.
BOOST_AUTO_TEST_CASE(base64_vectors_and_strictness) {
  using authrelay::Base64Decode;
  using authrelay::Base64Encode;
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},     {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    BOOST_TEST(Base64Encode(plain) == encoded);
    BOOST_TEST(Base64Decode(encoded).value_or("<none>") == plain);
  }
  std::string data;
  for (int n = 0; n < 260; ++n) {
    unsigned char out[400];
    int len = EVP_EncodeBlock(out, reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    BOOST_TEST_REQUIRE(Base64Encode(data) == std::string(reinterpret_cast<char*>(out), len), "length " << n);
    BOOST_TEST_REQUIRE(Base64Decode(Base64Encode(data)).value_or("<none>") == data, "length " << n);
    data.push_back(static_cast<char>(n * 37 + 11));
  }
  BOOST_TEST(Base64Decode("Zm9vYmFy \r").value_or("<none>") == "foobar");  // trailing blanks, as servers send
  // Blanks inside (four, so the length still divides by 4): libresolv alone would skip them.
  for (const char* bad :
       {"Zm9v    YmFy", "Zm9v\t\t\t\tYmFy", "Zm9", "Zm9 YmFy", "Zm9v\nYmFy", "Zg=a", "Z===", "====", "Zm9v!mFy", "Zm=v"}) {
    BOOST_TEST(!Base64Decode(bad).has_value(), bad);
  }
  // RFC 4648 §3.5: bits past the last byte must be zero ("Zh==" would also
  // read as "f"), and padding only ends the text, never a quantum inside it.
  for (const char* bad : {"Zh==", "Zm9=", "Zg==Zg==", "Zg", "Zm8"}) {
    BOOST_TEST(!Base64Decode(bad).has_value(), bad);
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

// smtp_tls_CApath: a CA file in the directory rewritten in place (the
// directory's own size and mtime do not change) is a changed CA: the key
// must change, so a session verified against the old CA is not reused.
BOOST_AUTO_TEST_CASE(key_material_follows_ca_path_contents) {
  char tmpl[] = "/tmp/authrelay-capath.XXXXXX";
  BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  auto write = [](const std::string& path, const std::string& text) {
    std::FILE* f = std::fopen(path.c_str(), "w");  // truncates in place: same inode
    BOOST_REQUIRE(f != nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  };
  write(dir + "/ca.pem", "old CA\n");
  authrelay::Settings s;
  authrelay::NextHop hop;
  hop.verbatim = "[mx.test]:587";
  authrelay::Endpoint ep = authrelay::ProxiedEndpoint("mx.test", 587);
  authrelay::TlsPolicy tls;
  tls.level = authrelay::TlsLevel::kSecure;
  tls.ca_path = dir;
  std::string before = SessionKeyMaterial(s, hop, ep, nullptr, tls, false, nullptr).text();
  struct stat dir_before{};
  BOOST_REQUIRE(stat(dir.c_str(), &dir_before) == 0);
  write(dir + "/ca.pem", "a new CA, longer\n");
  struct stat dir_after{};
  BOOST_REQUIRE(stat(dir.c_str(), &dir_after) == 0);
  BOOST_REQUIRE(dir_before.st_mtim.tv_nsec == dir_after.st_mtim.tv_nsec);  // the case: only the file changed
  std::string after = SessionKeyMaterial(s, hop, ep, nullptr, tls, false, nullptr).text();
  BOOST_TEST(before != after);
  std::remove((dir + "/ca.pem").c_str());
  rmdir(dir.c_str());
}

BOOST_AUTO_TEST_SUITE_END()
