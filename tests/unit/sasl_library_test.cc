// SaslLibrary loads only the Cyrus plugins a delivery can use, and all of
// them when it meets a mechanism it cannot place (so Cyrus's choice of
// mechanism never changes).
#include <sasl/sasl.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "sasl/sasl_client.h"

using namespace authrelay;

namespace {
std::string Loaded() {
  std::string out = " ";
  const char** mechs = sasl_global_listmech();
  for (int i = 0; mechs && mechs[i]; ++i) out += std::string(mechs[i]) + " ";
  return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(sasl_library)

BOOST_AUTO_TEST_CASE(plugin_names) {
  BOOST_CHECK_EQUAL(SaslLibrary::PluginFor("plain"), "plain");
  BOOST_CHECK_EQUAL(SaslLibrary::PluginFor("CRAM-MD5"), "crammd5");
  BOOST_CHECK_EQUAL(SaslLibrary::PluginFor("SCRAM-SHA-256-PLUS"), "scram");
  BOOST_CHECK_EQUAL(SaslLibrary::PluginFor("XOAUTH2"), "");
}

BOOST_AUTO_TEST_CASE(loads_only_what_the_server_offers_then_more_then_all) {
  SaslLibrary& lib = SaslLibrary::Global();
  BOOST_REQUIRE(lib.Load({"PLAIN", "LOGIN"}));
  std::string l = Loaded();
  BOOST_CHECK_NE(l.find(" PLAIN "), std::string::npos);
  BOOST_CHECK_NE(l.find(" LOGIN "), std::string::npos);
  BOOST_CHECK_EQUAL(l.find(" CRAM-MD5 "), std::string::npos);
  BOOST_CHECK_EQUAL(l.find(" SCRAM-SHA-256 "), std::string::npos);
  // A later server offers CRAM-MD5: reloaded with it, PLAIN still there.
  BOOST_REQUIRE(lib.Load({"CRAM-MD5"}));
  l = Loaded();
  BOOST_CHECK_NE(l.find(" CRAM-MD5 "), std::string::npos);
  BOOST_CHECK_NE(l.find(" PLAIN "), std::string::npos);
  // An unknown name: everything installed, as plain sasl_client_init.
  BOOST_REQUIRE(lib.Load({"X-UNKNOWN"}));
  l = Loaded();
  BOOST_CHECK_NE(l.find(" SCRAM-SHA-256 "), std::string::npos);
  BOOST_CHECK_NE(l.find(" DIGEST-MD5 "), std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
