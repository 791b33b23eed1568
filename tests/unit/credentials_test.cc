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

BOOST_AUTO_TEST_SUITE_END()
