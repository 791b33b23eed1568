#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <map>

#include "credmap/credentials.h"

using namespace authrelay;

namespace {

// An in-memory table that records the keys it was asked.
class FakeTable final : public LookupTable {
 public:
  FakeTable(std::string name, std::map<std::string, std::string> entries, std::vector<std::string>* asked)
      : name_(std::move(name)), entries_(std::move(entries)), asked_(asked) {}
  Result<std::optional<Secret>> Lookup(std::string_view key) override {
    asked_->push_back(name_ + ":" + std::string(key));
    if (fail_) return Failure("4.3.0", "local data error");
    auto it = entries_.find(std::string(key));
    if (it == entries_.end()) return std::optional<Secret>();
    return std::optional<Secret>(Secret(it->second));
  }
  Result<std::vector<Secret>> Values() override {
    std::vector<Secret> out;
    for (const auto& [k, v] : entries_) out.emplace_back(v);
    return out;
  }
  const std::string& spec() const override { return name_; }
  bool fail_ = false;

 private:
  std::string name_;
  std::map<std::string, std::string> entries_;
  std::vector<std::string>* asked_;
};

TableList Tables(std::vector<std::unique_ptr<LookupTable>> t) { return TableList::Of("smtp_sasl_password_maps", std::move(t)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(credentials)

BOOST_AUTO_TEST_CASE(smtp8_key_order_sender_dependent) {
  CredentialQuery q{"Tester+tag@Sender.Example", "localhost", "[localhost]:25899", true, "+"};
  std::vector<std::string> want = {"Tester+tag@Sender.Example", "Tester@Sender.Example", "@Sender.Example",
                                   "localhost", "[localhost]:25899"};
  BOOST_TEST(CredentialKeys(q) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(no_sender_keys_without_sender_dependent_or_with_null_sender) {
  CredentialQuery q{"a@b", "smtp.gmail.com", "[smtp.gmail.com]:587", false, ""};
  std::vector<std::string> want = {"smtp.gmail.com", "[smtp.gmail.com]:587"};
  BOOST_TEST(CredentialKeys(q) == want, boost::test_tools::per_element());
  q.sender_dependent = true;
  q.sender = "";
  BOOST_TEST(CredentialKeys(q) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(extension_needs_recipient_delimiter) {
  CredentialQuery q{"u+ext@d", "h", "[h]:25", true, ""};
  std::vector<std::string> want = {"u+ext@d", "@d", "h", "[h]:25"};
  BOOST_TEST(CredentialKeys(q) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_later_table_is_not_opened_when_an_earlier_one_answers) {
  std::vector<std::string> asked;
  std::vector<std::unique_ptr<LookupTable>> t;
  t.push_back(std::make_unique<FakeTable>("A", std::map<std::string, std::string>{{"h", "a:1"}}, &asked));
  auto b = std::make_unique<FakeTable>("B", std::map<std::string, std::string>{}, &asked);
  b->fail_ = true;  // an unreadable table never reached is no error
  t.push_back(std::move(b));
  TableList list = Tables(std::move(t));
  auto c = FindCredentials(list, {"", "h", "[h]:587", false, ""});
  BOOST_REQUIRE(c.ok());
  BOOST_REQUIRE(c.value().has_value());
  BOOST_TEST(c.value()->username == "a");
  BOOST_TEST(std::count_if(asked.begin(), asked.end(), [](const std::string& s) { return s[0] == 'B'; }) == 0);
}

BOOST_AUTO_TEST_CASE(key_by_key_across_tables) {
  std::vector<std::string> asked;
  std::vector<std::unique_ptr<LookupTable>> t;
  t.push_back(std::make_unique<FakeTable>("A", std::map<std::string, std::string>{{"[h]:587", "a-user:a-pw"}}, &asked));
  t.push_back(std::make_unique<FakeTable>("B", std::map<std::string, std::string>{{"h", "b-user:b:pw"}}, &asked));
  TableList list = Tables(std::move(t));
  auto c = FindCredentials(list, {"", "h", "[h]:587", false, ""});
  BOOST_REQUIRE(c.ok());
  BOOST_REQUIRE(c.value().has_value());
  // Postfix's order is key-major: "h" in A, "h" in B, then "[h]:587". Each
  // table is read once for all keys (one open and lock), but the winner is
  // still the first key in that order: B's "h", not A's "[h]:587".
  std::vector<std::string> want = {"A:h", "A:[h]:587", "B:h", "B:[h]:587"};
  BOOST_TEST(asked == want, boost::test_tools::per_element());
  BOOST_TEST(c.value()->username == "b-user");
  BOOST_TEST(c.value()->password.Reveal() == "b:pw");  // split at the first colon only
  BOOST_TEST(c.value()->matched_key == "h");
}

BOOST_AUTO_TEST_CASE(not_found_means_no_auth) {
  std::vector<std::string> asked;
  std::vector<std::unique_ptr<LookupTable>> t;
  t.push_back(std::make_unique<FakeTable>("A", std::map<std::string, std::string>{}, &asked));
  TableList list = Tables(std::move(t));
  auto c = FindCredentials(list, {"", "h", "[h]:587", false, ""});
  BOOST_REQUIRE(c.ok());
  BOOST_TEST(!c.value().has_value());
  BOOST_TEST(asked.size() == 2u);
}

BOOST_AUTO_TEST_CASE(table_error_is_not_not_found) {
  std::vector<std::string> asked;
  auto bad = std::make_unique<FakeTable>("A", std::map<std::string, std::string>{}, &asked);
  bad->fail_ = true;
  std::vector<std::unique_ptr<LookupTable>> t;
  t.push_back(std::move(bad));
  TableList list = Tables(std::move(t));
  auto c = FindCredentials(list, {"", "h", "[h]:587", false, ""});
  BOOST_REQUIRE(!c.ok());
  BOOST_TEST(c.failure().dsn() == "4.3.0");
}

BOOST_AUTO_TEST_CASE(empty_value_is_a_configuration_error) {
  std::vector<std::string> asked;
  std::vector<std::unique_ptr<LookupTable>> t;
  t.push_back(std::make_unique<FakeTable>("A", std::map<std::string, std::string>{{"h", ""}}, &asked));
  TableList list = Tables(std::move(t));
  auto c = FindCredentials(list, {"", "h", "[h]:587", false, ""});
  BOOST_REQUIRE(!c.ok());
  BOOST_TEST(c.failure().dsn() == "4.3.5");
}

BOOST_AUTO_TEST_CASE(value_split) {
  Credentials c = SplitCredentialValue(Secret("alice@gmail.com:app-pass:with:colons"));
  BOOST_TEST(c.username == "alice@gmail.com");
  BOOST_TEST(c.password.Reveal() == "app-pass:with:colons");
  Credentials n = SplitCredentialValue(Secret("nocolon"));
  BOOST_TEST(n.username == "nocolon");
  BOOST_TEST(n.password.empty());
}

BOOST_AUTO_TEST_CASE(file_and_ses_key_values_name_where_the_secret_lives) {
  Credentials f = SplitCredentialValue(Secret("u@example.com:file:/run/secrets/smtp"));
  BOOST_TEST(f.username == "u@example.com");
  BOOST_TEST(f.password_file == "/run/secrets/smtp");
  BOOST_TEST(f.password.empty());
  BOOST_TEST(f.ses_region.empty());
  Credentials s = SplitCredentialValue(Secret("AKIAIOSFODNN7EXAMPLE:ses-key:eu-west-1:/etc/authrelay/ses.key"));
  BOOST_TEST(s.username == "AKIAIOSFODNN7EXAMPLE");
  BOOST_TEST(s.ses_region == "eu-west-1");
  BOOST_TEST(s.password_file == "/etc/authrelay/ses.key");
  BOOST_TEST(PasswordSource(s) == "SES key file /etc/authrelay/ses.key (region eu-west-1)");
  // Anything else is still a password: relative paths, other prefixes.
  for (const char* pw : {"file:relative", "file", "File:/x", "pw:file:/x", "Ses-key:x"}) {
    Credentials p = SplitCredentialValue(Secret(std::string("u:") + pw));
    BOOST_TEST(p.password_file.empty());
    BOOST_TEST(!p.PasswordOutsideMap());
    BOOST_TEST(p.password.Reveal() == pw);
  }
  // But "ses-key:" always names an SES key: a malformed one (no region, no
  // path, a relative path) defers instead of going to the server as a
  // password, and its parts are not echoed (they might be a password).
  for (const char* pw : {"ses-key:us-east-1", "ses-key:x", "ses-key:/etc/k", "ses-key:us-east-1:k", "ses-key:"}) {
    Credentials p = SplitCredentialValue(Secret(std::string("AKIA:") + pw));
    BOOST_TEST(p.PasswordOutsideMap(), pw);
    BOOST_TEST(p.password.empty(), pw);
    auto r = ResolvePassword(p, geteuid());
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.failure().dsn() == "4.3.5");
    std::string after = std::string(pw).substr(8);  // a region alone may be named
    if (after.empty() || ValidAwsRegion(after)) continue;
    BOOST_TEST(r.failure().detail().find(after) == std::string::npos, r.failure().detail());
    BOOST_TEST(PasswordSource(p).find(after) == std::string::npos, PasswordSource(p));
  }
}

BOOST_AUTO_TEST_CASE(aws_region_names) {
  for (const char* r : {"us-east-1", "eu-central-2", "ap-southeast-3", "us-gov-west-1", "il-central-1"}) {
    BOOST_TEST(ValidAwsRegion(r), r);
  }
  for (const char* r : {"", "us-east", "US-EAST-1", "us_east_1", "-1", "us-east-1a", "us-east-1/x", "1-east-1"}) {
    BOOST_TEST(!ValidAwsRegion(r), r);
  }
}

// The derivation's shape (the values themselves are checked against an
// independent Python derivation in tests/credmap/secret_sources_test.sh):
// 33 bytes (version 0x04 + HMAC-SHA256) in base64, region-dependent.
BOOST_AUTO_TEST_CASE(ses_smtp_password_shape) {
  Secret key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  Secret a = SesSmtpPassword(key, "us-east-1");
  Secret b = SesSmtpPassword(key, "eu-west-1");
  BOOST_TEST(a.size() == 44u);
  BOOST_TEST(a.Reveal().rfind("B", 0) == 0u);  // 0x04 as the first base64 sextets
  BOOST_TEST(a.Reveal() != b.Reveal());
  BOOST_TEST(SesSmtpPassword(key, "us-east-1").Reveal() == a.Reveal());
}

BOOST_AUTO_TEST_CASE(an_unusable_password_file_defers_with_the_fix) {
  Credentials c = SplitCredentialValue(Secret("u:file:/nonexistent/authrelay-pw"));
  c.matched_key = "[smtp.example.com]:587";
  auto r = ResolvePassword(c, geteuid());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.failure().dsn() == "4.3.5");
  BOOST_TEST(r.failure().detail().find("password file /nonexistent/authrelay-pw (credentials for "
                                       "[smtp.example.com]:587): cannot open") != std::string::npos,
             r.failure().detail());
  Credentials bad = SplitCredentialValue(Secret("AKIA:ses-key:Mars:/x"));
  r = ResolvePassword(bad, geteuid());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.failure().detail().find("not an AWS region") != std::string::npos);
  // A map password stays a map password.
  auto plain = ResolvePassword(SplitCredentialValue(Secret("u:pw")), geteuid());
  BOOST_REQUIRE(plain.ok());
  BOOST_TEST(plain.value().Reveal() == "pw");
}

BOOST_AUTO_TEST_SUITE_END()
