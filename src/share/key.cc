#include "share/key.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>

namespace authrelay::share {

namespace {

// A map or CA given as "type:/path" or "/path": the files whose change must
// change the key (the source and its compiled forms).
std::string TableIdentity(const std::string& table) {
  std::string path = table.substr(table.find(':') == std::string::npos ? 0 : table.find(':') + 1);
  return FileIdentity(path) + "|" + FileIdentity(path + ".db") + "|" + FileIdentity(path + ".lmdb");
}

// A CA directory (smtp_tls_CApath): its own identity and every entry's
// (stat follows the c_rehash links to their certificates). A certificate
// rewritten in place changes neither the directory's size nor its mtime.
std::string DirectoryIdentity(const std::string& dir) {
  std::string out = FileIdentity(dir);
  if (dir.empty()) return out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) out += "|" + FileIdentity(dir + "/" + n);
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += x + ",";
  return out;
}

}  // namespace

KeyMaterial SessionKeyMaterial(const Settings& s, const NextHop& hop, const Endpoint& ep, const Credentials* creds,
                               const TlsPolicy& tls, bool wrappermode, const ProxyConfig* proxy) {
  KeyMaterial m;
  m.Add("version", "1");
  m.Add("uid", std::to_string(geteuid()));
  m.Add("nexthop", hop.verbatim);
  m.Add("host", ep.host);
  m.Add("address", ep.address);
  m.Add("port", std::to_string(ep.port));
  m.Add("bind", ep.sa.ss_family == AF_INET6 ? s.bind_address6 : s.bind_address);
  m.Add("helo", s.session.helo_name);
  m.Add("wrappermode", wrappermode ? "1" : "0");
  // Through a proxy the endpoint is only the server's name: which proxy
  // (and its login) carries the session must part keys too. The URL may
  // hold the proxy's password; it enters only the keyed hash.
  m.Add("proxy", proxy ? proxy->CurlUrl().Reveal() : "none");
  // The whole TLS policy, and the identity of every file it trusts.
  m.Add("tls.level", TlsLevelName(tls.level));
  m.Add("tls.ca_file", FileIdentity(tls.ca_file));
  m.Add("tls.ca_path", DirectoryIdentity(tls.ca_path));
  m.Add("tls.protocols", tls.protocols);
  m.Add("tls.match", Join(tls.match_names));
  m.Add("tls.fingerprints", Join(tls.fingerprints));
  m.Add("tls.digest", tls.fingerprint_digest);
  m.Add("tls.servername", tls.server_name);
  m.Add("tls.ciphers", tls.ciphers);
  m.Add("tls.exclude", tls.exclude);
  m.Add("tls.cert", FileIdentity(tls.cert_file));
  m.Add("tls.key", FileIdentity(tls.key_file));
  if (tls.ca_file.empty() && tls.ca_path.empty()) {
    // The system trust store.
    m.Add("tls.system", FileIdentity("/etc/ssl/certs/ca-certificates.crt") + "|" + FileIdentity("/etc/ssl/certs"));
  }
  // SASL: the settings that choose a mechanism, and the credentials used.
  m.Add("sasl.filter", s.session.mechanism_filter);
  m.Add("sasl.options", s.session.sasl_options_plain + "|" + s.session.sasl_options_tls + "|" +
                            s.session.sasl_options_verified);
  m.Add("sasl.plaintext", s.allow_plaintext_auth ? "1" : "0");
  if (creds) {
    m.Add("cred.table", creds->table + "|" + TableIdentity(creds->table));
    m.Add("cred.key", creds->matched_key);
    m.Add("cred.user", creds->username);
    m.Add("cred.store", creds->oauth_store);
    // The secret itself enters only the keyed hash, never a file or log.
    m.Add("cred.secret", creds->password.Reveal());
    // A password kept in a file (user:file:, ses-key:) changes without the
    // map changing: the file's identity is part of the key.
    m.Add("cred.file", creds->password_file.empty() ? "" : FileIdentity(creds->password_file));
  } else {
    m.Add("cred", "none");
  }
  return m;
}

}  // namespace authrelay::share
