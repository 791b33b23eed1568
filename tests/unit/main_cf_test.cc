#include <boost/test/unit_test.hpp>

#include "config/main_cf.h"

using namespace authrelay;

BOOST_AUTO_TEST_SUITE(main_cf)

BOOST_AUTO_TEST_CASE(syntax_comments_continuations_last_wins) {
  auto cf = MainCf::Parse(
      "# comment\n"
      "relayhost = [smtp.gmail.com]:587\n"
      "\n"
      "   # indented comment\n"
      "smtp_sasl_security_options = noanonymous,\n"
      "    noplaintext\n"
      "\tnodictionary\n"
      "relayhost=[other]:25   \n"
      "empty =\n");
  BOOST_REQUIRE(cf.ok());
  BOOST_TEST(cf.value().Get("relayhost") == "[other]:25");
  // Continuations are appended as they stand, as postconf shows them.
  BOOST_TEST(cf.value().Get("smtp_sasl_security_options") == "noanonymous,    noplaintext\tnodictionary");
  BOOST_TEST(cf.value().IsSet("empty"));
  BOOST_TEST(cf.value().Get("empty") == "");
}

BOOST_AUTO_TEST_CASE(expansion_and_defaults) {
  auto cf = MainCf::Parse(
      "mydomain = example.org\n"
      "myhostname = mail.$mydomain\n"
      "a = ${myhostname}/$(mydomain)\n"
      "b = ${unset_param?yes}|${mydomain?yes}|${unset_param:fallback}|${mydomain:fallback}\n"
      "c = $$literal\n"
      "loop = $loop\n");
  BOOST_REQUIRE(cf.ok());
  const MainCf& c = cf.value();
  BOOST_TEST(c.Get("a") == "mail.example.org/example.org");
  BOOST_TEST(c.Get("b") == "|yes|fallback|");  // postconf -xh agrees: ${set:x} is empty
  BOOST_TEST(c.Get("c") == "$literal");
  BOOST_TEST(c.Get("smtp_helo_name") == "mail.example.org");          // default $myhostname
  BOOST_TEST(c.Get("smtp_sasl_tls_security_options") == "noplaintext, noanonymous");
  BOOST_TEST(c.Get("loop") == "");                                    // depth-limited, no hang
  BOOST_TEST(c.Get("no_such_parameter") == "");
}

BOOST_AUTO_TEST_CASE(exponential_expansion_is_bounded) {
  std::string text = "p0 = x\n";
  for (int i = 1; i < 40; ++i) text += "p" + std::to_string(i) + " = $p" + std::to_string(i - 1) + "$p" + std::to_string(i - 1) + "\n";
  auto cf = MainCf::Parse(text);
  BOOST_REQUIRE(cf.ok());
  BOOST_TEST(cf.value().Get("p39").size() <= (1u << 20));  // 2^39 bytes unbounded
  BOOST_TEST(cf.value().Get("p3") == "xxxxxxxx");
}

BOOST_AUTO_TEST_CASE(overrides_replace_file_values) {
  auto cf = MainCf::Parse("smtp_tls_security_level = may\nx = $smtp_tls_security_level\n");
  BOOST_REQUIRE(cf.ok());
  cf.value().Set("smtp_tls_security_level", "secure");
  BOOST_TEST(cf.value().Get("x") == "secure");
}

BOOST_AUTO_TEST_CASE(typed_values) {
  auto cf = MainCf::Parse("t1 = 30s\nt2 = 5m\nt3 = 2h\nt4 = 10\nbad = 5x\nyes1 = YES\nn = 998\n");
  BOOST_REQUIRE(cf.ok());
  BOOST_TEST(cf.value().GetTime("t1").value() == 30);
  BOOST_TEST(cf.value().GetTime("t2").value() == 300);
  BOOST_TEST(cf.value().GetTime("t3").value() == 7200);
  BOOST_TEST(cf.value().GetTime("t4").value() == 10);
  BOOST_TEST(!cf.value().GetTime("bad").ok());
  BOOST_TEST(cf.value().GetTime("bad").failure().dsn() == "4.3.5");
  BOOST_TEST(cf.value().GetBool("yes1"));
  BOOST_TEST(cf.value().GetBool("smtp_sasl_auth_soft_bounce"));  // default yes
  BOOST_TEST(!cf.value().GetBool("smtp_sasl_auth_enable"));      // default no
  BOOST_TEST(cf.value().GetInt("n").value() == 998);
  BOOST_TEST(cf.value().GetTime("authrelay_time_limit").value() == 1000);  // $command_time_limit
}

BOOST_AUTO_TEST_CASE(syntax_errors_name_the_line) {
  auto bad = MainCf::Parse("ok = 1\nthis line has no equals\n", "/etc/postfix/main.cf");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.failure().dsn() == "4.3.5");
  BOOST_TEST(bad.failure().text().find("main.cf, line 2") != std::string::npos);
  BOOST_TEST(bad.failure().text().find("/etc/postfix") == std::string::npos);  // no path in the bounce text
  BOOST_TEST(!MainCf::Parse("  starts = indented\n").ok());
  BOOST_TEST(!MainCf::Parse("= value\n").ok());
}

BOOST_AUTO_TEST_CASE(seed_recipe_lines_verbatim) {
  auto cf = MainCf::Parse(
      "relayhost = [smtp.gmail.com]:587\n"
      "smtp_use_tls = yes\n"
      "smtp_sasl_auth_enable = yes\n"
      "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd\n"
      "smtp_sasl_tls_security_options = noanonymous\n"
      "smtp_sasl_mechanism_filter = plain\n"
      "smtp_tls_CApath = /etc/pki/tls/certs/ca-bundle.crt\n");
  BOOST_REQUIRE(cf.ok());
  BOOST_TEST(cf.value().GetBool("smtp_use_tls"));
  BOOST_TEST(cf.value().Get("smtp_sasl_password_maps") == "hash:/etc/postfix/sasl_passwd");
}

BOOST_AUTO_TEST_CASE(split_list) {
  std::vector<std::string> want = {"hash:/a", "lmdb:/b", "texthash:/c"};
  BOOST_TEST(SplitList(" hash:/a,lmdb:/b \n\t texthash:/c ,") == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
