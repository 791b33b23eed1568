// Hostile inputs around secrets, from outside: a token endpoint that echoes
// what we sent it, JSON nested a million deep (a token store, an endpoint's
// answer), a certificate path that is a FIFO, a password file owned by root
// judged by --check run as root. Each case once crashed, hung, leaked or
// passed a file that every delivery would refuse.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>

#include "core/json.h"
#include "core/private_file.h"
#include "credmap/credentials.h"
#include "oauth/jwt.h"
#include "oauth/token_store.h"

using namespace authrelay;

namespace {

struct Dir {
  std::string path = "/tmp/authrelay-hostile-unit-" + std::to_string(getpid());
  Dir() { std::filesystem::create_directories(path); }
  ~Dir() { std::filesystem::remove_all(path); }
};

// Runs fn in a child with a deadline: true when it returned normally in
// time (a crash, a hang or an exception is false).
template <class Fn>
bool ReturnsWithin(unsigned seconds, Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    // The child dies of what it meets: Boost.Test's handlers would catch a
    // crash and run the rest of the suite in the child.
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGALRM}) signal(sig, SIG_DFL);
    alarm(seconds);
    try {
      fn();
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string Nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_secrets)

// nlohmann parses and frees any depth without recursion; our wiping of the
// parsed document must not recurse either (a 1 MiB store or answer of '['
// is half a million levels).
BOOST_AUTO_TEST_CASE(json_nested_half_a_million_deep_is_refused_not_a_crash) {
  const std::string deep = Nested(500000);
  BOOST_TEST(ReturnsWithin(20, [&] {
    auto s = ParseTokenStore("/x/store.json", deep);
    if (s.ok() || !Contains(s.failure().detail(), "not a JSON object")) _exit(2);
  }));
  BOOST_TEST(ReturnsWithin(20, [&] {
    auto s = ParseTokenStore("/x/store.json", R"({"token_endpoint":"https://e/t","client_id":"c","x":)" + deep + "}");
    if (!s.ok()) _exit(2);  // an unknown member is ignored, however deep
  }));
  BOOST_TEST(ReturnsWithin(20, [&] {
    TokenAnswer a = ParseTokenAnswer(TokenResponse{200, R"({"access_token":)" + deep + "}"});
    if (a.ok) _exit(2);
  }));
}

// The token endpoint decides what its error says; it must not be able to
// make us print the refresh token, the client secret or the signed
// assertion we sent it (whole, form-encoded, or a piece of it).
BOOST_AUTO_TEST_CASE(an_endpoint_echoing_our_secrets_in_its_error_cannot_make_us_print_them) {
  TokenStore s;
  s.path = "/x/store.json";
  s.token_endpoint = "https://login.example/token";
  s.client_id = "client-1";
  s.client_secret = Secret("CS-s3cret/with+specials-0123456789");
  s.refresh_token = Secret("1//RT-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f");
  std::string sent_form;
  TokenHttpPost echo = [&](const std::string&, const Secret& form) -> Result<TokenResponse> {
    sent_form = form.Reveal();
    Json body = {{"error", s.refresh_token.Reveal()},
                 {"error_description", "you sent " + form.Reveal() + " and the secret " + s.client_secret.Reveal() +
                                           " part " + s.refresh_token.Reveal().substr(5, 20)}};
    return TokenResponse{400, DumpJson(body)};
  };
  Status st = RefreshTokenStore(s, echo, 1000);
  BOOST_REQUIRE(!st.ok());
  const std::string shown = st.failure().text() + "\n" + st.failure().detail();
  BOOST_TEST(!Contains(shown, s.client_secret.Reveal()));
  BOOST_TEST(!Contains(shown, FormEncode(s.client_secret.Reveal())));
  BOOST_TEST(!Contains(shown, s.refresh_token.Reveal()));
  BOOST_TEST(!Contains(shown, FormEncode(s.refresh_token.Reveal())));
  BOOST_TEST(!Contains(shown, s.refresh_token.Reveal().substr(5, 20)));
  // Still one clear line that says the endpoint refused, and which way.
  BOOST_TEST(Contains(st.failure().text(), "OAuth token refresh failed: "));
  BOOST_TEST(st.failure().dsn() == "4.7.0");
  BOOST_TEST(!sent_form.empty());
}

// The certificate is public, but its path comes from a store: a FIFO there
// must not hang the delivery, /dev/zero must not fill memory.
BOOST_AUTO_TEST_CASE(a_certificate_path_that_is_a_fifo_or_a_device_fails_at_once) {
  Dir d;
  std::string fifo = d.path + "/cert.pem";
  BOOST_REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  BOOST_TEST(ReturnsWithin(5, [&] {
    auto c = ReadCertificate(fifo);
    if (c.ok() || !Contains(c.failure().detail(), "not a regular file")) _exit(2);
  }));
  BOOST_TEST(ReturnsWithin(5, [&] {
    auto c = ReadCertificate("/dev/zero");
    if (c.ok() || !Contains(c.failure().detail(), "not a regular file")) _exit(2);
  }));
}

// --check run as root judges a secret file as the pipe user will; no pipe
// user is root, so a root-owned password file is an error, not a pass.
BOOST_AUTO_TEST_CASE(check_as_root_does_not_pass_a_root_owned_secret_file) {
  if (geteuid() != 0) return;  // only root can make and judge such a file
  Dir d;
  std::string path = d.path + "/password";
  std::ofstream(path) << "pw\n";
  chown(path.c_str(), 0, 0);
  chmod(path.c_str(), 0600);
  Credentials c;
  c.username = "u";
  c.password_file = path;
  auto password = ResolvePassword(c, PipeUserToJudgeAs(path));
  BOOST_REQUIRE(!password.ok());
  BOOST_TEST(Contains(password.failure().detail(), "owned by root"));
  // The same file owned by an ordinary user passes as that user.
  chown(path.c_str(), 65534, 65534);
  BOOST_TEST(ResolvePassword(c, PipeUserToJudgeAs(path)).ok());
}

BOOST_AUTO_TEST_SUITE_END()
