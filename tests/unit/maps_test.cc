// Map readers against files made by the real postmap(1): hash, btree, lmdb,
// with and without -f (no case folding) and -n (no trailing NUL).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "credmap/map.h"

using namespace authrelay;
namespace fs = std::filesystem;

namespace {

const char* kSource =
    "# credentials\n"
    "[smtp.gmail.com]:587    alice@gmail.com:app-pass:with:colons\n"
    "[SMTP.Example.COM]:465  Bob:secret\n"
    "user@Example.ORG        sender-user:pw1\n"
    "@example.net            domain-user:pw2\n"
    "mail.isp.example        plainhost:pw3\n"
    "continued               first\n"
    "    second\n";

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/authrelay-maps-XXXXXX";
    path = mkdtemp(tmpl);
    std::ofstream(path / "main.cf") << "";
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string Postmap(const TempDir& d, const std::string& type, const std::string& name, const std::string& flags) {
  fs::path src = d.path / name;
  std::ofstream(src) << kSource;
  chmod(src.c_str(), 0640);
  std::string cmd = "postmap -c " + d.path.string() + " " + flags + " " + type + ":" + src.string();
  BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
  return type + ":" + src.string();
}

std::optional<std::string> Find(LookupTable& t, const std::string& key) {
  auto r = t.Lookup(key);
  if (!r.ok()) BOOST_FAIL("lookup failed: " + r.failure().detail());
  if (!r.value()) return std::nullopt;
  return r.value()->Reveal();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(maps)

BOOST_AUTO_TEST_CASE(postmap_files_read_as_postfix_reads_them) {
  TempDir d;
  for (std::string type : {"hash", "btree", "lmdb"}) {
    for (std::string flags : {"", "-n"}) {
      BOOST_TEST_CONTEXT(type << " " << flags) {
        std::string spec = Postmap(d, type, type + (flags.empty() ? "" : "_n"), flags);
        std::vector<Notice> warnings;
        auto t = OpenTable(spec, &warnings);
        BOOST_REQUIRE(t.ok());
        BOOST_TEST(Find(*t.value(), "[smtp.gmail.com]:587").value_or("-") == "alice@gmail.com:app-pass:with:colons");
        // postmap folded the key; our query is folded too.
        BOOST_TEST(Find(*t.value(), "[SMTP.example.com]:465").value_or("-") == "Bob:secret");
        BOOST_TEST(Find(*t.value(), "USER@example.org").value_or("-") == "sender-user:pw1");
        BOOST_TEST(Find(*t.value(), "continued").value_or("-") == "first    second");
        BOOST_TEST(!Find(*t.value(), "[smtp.gmail.com]:465").has_value());
        BOOST_TEST(!Find(*t.value(), "smtp.gmail.com").has_value());
        BOOST_TEST(!Find(*t.value(), "").has_value());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(postmap_f_upper_case_keys_are_unreachable_as_in_smtp8) {
  TempDir d;
  auto t = OpenTable(Postmap(d, "hash", "nofold", "-f"), nullptr);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(!Find(*t.value(), "user@Example.ORG").has_value());
  BOOST_TEST(Find(*t.value(), "@example.net").value_or("-") == "domain-user:pw2");
}

BOOST_AUTO_TEST_CASE(texthash_reads_the_source) {
  TempDir d;
  fs::path src = d.path / "plain";
  std::ofstream(src) << kSource;
  chmod(src.c_str(), 0640);
  auto t = OpenTable("texthash:" + src.string(), nullptr);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(Find(*t.value(), "[smtp.example.com]:465").value_or("-") == "Bob:secret");
  BOOST_TEST(Find(*t.value(), "continued").value_or("-") == "first    second");
}

BOOST_AUTO_TEST_CASE(every_backend_lists_all_its_values) {
  // --check finds OAuth stores through Values(): all six values, NULs and
  // postmap -n alike, from every backend.
  TempDir d;
  fs::path src = d.path / "plain";
  std::ofstream(src) << kSource;
  chmod(src.c_str(), 0640);
  std::vector<std::string> specs = {"texthash:" + src.string()};
  for (std::string type : {"hash", "btree", "lmdb"}) {
    specs.push_back(Postmap(d, type, type, ""));
    specs.push_back(Postmap(d, type, type + "_n", "-n"));
  }
  std::multiset<std::string> expected = {"alice@gmail.com:app-pass:with:colons", "Bob:secret", "sender-user:pw1",
                                         "domain-user:pw2", "plainhost:pw3", "first    second"};
  for (const std::string& spec : specs) {
    BOOST_TEST_CONTEXT(spec) {
      auto t = OpenTable(spec, nullptr);
      BOOST_REQUIRE(t.ok());
      auto values = t.value()->Values();
      BOOST_REQUIRE(values.ok());
      std::multiset<std::string> got;
      for (const Secret& v : values.value()) got.insert(v.Reveal());
      BOOST_TEST((got == expected));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_tables_defer_with_a_reason) {
  TempDir d;
  auto missing = OpenTable("hash:" + (d.path / "nope").string(), nullptr);
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.failure().dsn() == "4.3.0");
  BOOST_TEST(missing.failure().detail().find("postmap") != std::string::npos);
  BOOST_TEST(missing.failure().text().find(d.path.string()) == std::string::npos);

  auto type = OpenTable("mysql:/etc/postfix/x.cf", nullptr);
  BOOST_REQUIRE(!type.ok());
  BOOST_TEST(type.failure().dsn() == "4.3.5");
  BOOST_TEST(type.failure().text().find("mysql") != std::string::npos);

  BOOST_TEST(!OpenTable("hash:relative/path", nullptr).ok());
  BOOST_TEST(!OpenTable("notype", nullptr).ok());

  // A file that is not a Berkeley DB: the open fails, nothing is "not found".
  std::ofstream(d.path / "garbage.db") << "this is not a database";
  chmod((d.path / "garbage.db").c_str(), 0640);
  auto g = OpenTable("hash:" + (d.path / "garbage").string(), nullptr);
  BOOST_REQUIRE(g.ok());
  auto r = g.value()->Lookup("x");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.failure().dsn() == "4.3.0");
  // Same for lmdb.
  std::ofstream(d.path / "garbage.lmdb") << std::string(8192, 'x');
  chmod((d.path / "garbage.lmdb").c_str(), 0640);
  auto gl = OpenTable("lmdb:" + (d.path / "garbage").string(), nullptr);
  BOOST_REQUIRE(gl.ok());
  BOOST_TEST(!gl.value()->Lookup("x").ok());
}

BOOST_AUTO_TEST_CASE(writable_maps_refused_readable_warned_stale_warned) {
  TempDir d;
  std::string spec = Postmap(d, "hash", "perm", "");
  fs::path db = d.path / "perm.db";
  chmod(db.c_str(), 0664);
  auto w = OpenTable(spec, nullptr);
  BOOST_REQUIRE(!w.ok());
  BOOST_TEST(w.failure().detail().find("writable") != std::string::npos);
  chmod(db.c_str(), 0644);
  std::vector<Notice> warnings;
  BOOST_REQUIRE(OpenTable(spec, &warnings).ok());
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].Line().find("world-readable") != std::string::npos);
  chmod(db.c_str(), 0640);
  // Source newer than the .db by more than 100 s: postmap was forgotten.
  struct timespec times[2] = {{0, UTIME_OMIT}, {time(nullptr) - 1000, 0}};
  utimensat(AT_FDCWD, db.c_str(), times, 0);
  warnings.clear();
  BOOST_REQUIRE(OpenTable(spec, &warnings).ok());
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].Line().find("older than source") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(several_tables_in_one_parameter) {
  TempDir d;
  std::string a = Postmap(d, "hash", "a", "");
  fs::path b = d.path / "b";
  std::ofstream(b) << "mail.isp.example  override:x\nonly.in.b  b:y\n";
  chmod(b.c_str(), 0640);
  auto list = TableList::Open("smtp_sasl_password_maps", a + ", texthash:" + b.string(), nullptr);
  BOOST_REQUIRE(list.ok());
  auto hit = list.value().Find("mail.isp.example");
  BOOST_REQUIRE(hit.ok());
  BOOST_REQUIRE(hit.value().has_value());
  BOOST_TEST(hit.value()->value.Reveal() == "plainhost:pw3");  // first table wins
  auto only_b = list.value().Find("only.in.b");
  BOOST_REQUIRE(only_b.ok() && only_b.value().has_value());
  BOOST_TEST(only_b.value()->value.Reveal() == "b:y");
}

BOOST_AUTO_TEST_CASE(postmap_source_parser) {
  auto e = ParsePostmapSource("# c\n\nK1 v1\n  more\n\"quoted key\" v2\nk1 dup\n");
  BOOST_REQUIRE(e.size() == 2u);
  BOOST_TEST(e[0].first == "k1");
  BOOST_TEST(e[0].second == "v1  more");
  BOOST_TEST(e[1].first == "\"quoted key\"");
}

BOOST_AUTO_TEST_SUITE_END()
