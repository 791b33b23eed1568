#include "tls/policy.h"

#include <arpa/inet.h>

#include <algorithm>

#include "core/list.h"
#include "core/sanitize.h"

namespace authrelay {
namespace {

bool IsAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Postfix's list separators for main.cf match lists (comma, white space, colon).
constexpr const char* kListSeparators = ", \t\r\n:";

Failure ConfigProblem(const std::string& detail) {
  return Failure("4.7.5", "client TLS configuration problem", detail);
}


// OpenSSL cipher lists for Postfix's cipher grades (TLS 1.2 and older;
// TLS 1.3 suites are all strong).
const char* CipherGrade(const std::string& grade) {
  std::string g = Lowercase(grade);
  if (g == "high") return "HIGH:!aNULL:!eNULL";
  if (g == "medium") return "HIGH:MEDIUM:!aNULL:!eNULL";
  if (g == "low" || g == "export") return "ALL:!aNULL:!eNULL";
  if (g == "null") return "eNULL:!aNULL";
  return nullptr;
}

// One word of a certificate match list to the name it stands for:
// "hostname" is the server host, "nexthop" the next-hop domain,
// "dot-nexthop" its subdomains; anything else is itself.
std::string MatchName(const std::string& word, const TlsDestination& d) {
  std::string l = Lowercase(word);
  if (l == "hostname") return d.server_host;
  if (l == "nexthop") return d.domain;
  if (l == "dot-nexthop") return "." + d.domain;
  return word;
}

// Splits on any of `separators` and drops empty words.
std::vector<std::string> Split(const std::string& s, const std::string& separators) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (separators.find(c) != std::string::npos) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// What a smtp_tls_policy_maps value says, before it is combined with main.cf.
struct PolicyEntry {
  TlsLevel level = TlsLevel::kMay;
  std::vector<std::string> match;  // raw match= values, in order
  std::optional<std::string> protocols, ciphers, exclude, servername;
};

Result<PolicyEntry> ParseEntry(const std::string& value, const TlsDestination& d) {
  auto bad = [&](const std::string& why) {
    return ConfigProblem("TLS policy lookup for " + d.nexthop + ": " + why + " (in smtp_tls_policy_maps)");
  };
  std::vector<std::string> words = SplitList(value);
  if (words.empty()) return bad("empty policy");
  std::string first = Lowercase(words[0]);
  // DANE needs DNSSEC lookups, which authrelay does not make: smtp(8)
  // without them falls back from "dane" to "may", and refuses "dane-only".
  if (first == "dane-only") return bad("level dane-only needs DNSSEC lookups, which authrelay does not make");
  auto l = first == "dane" ? std::optional<TlsLevel>(TlsLevel::kMay) : ParseTlsLevel(words[0]);
  if (!l) return bad("invalid TLS level \"" + Printable(words[0], 40) + "\"");
  PolicyEntry e;
  e.level = *l;
  // smtp(8) ignores (and warns about) attributes when TLS is off.
  if (e.level == TlsLevel::kNone) return e;
  for (std::size_t i = 1; i < words.size(); ++i) {
    std::string w = words[i];
    if (w.size() >= 2 && w.front() == '{' && w.back() == '}') w = std::string(Trim(w.substr(1, w.size() - 2)));
    auto eq = w.find('=');
    if (eq == std::string::npos) return bad("attribute without value: " + Printable(w, 60));
    std::string name = Lowercase(Trim(w.substr(0, eq)));
    std::string val(Trim(w.substr(eq + 1)));
    if (name == "match") {
      // An empty match list would accept any name: smtp(8) refuses it, so
      // do we. match= means nothing below fingerprint, and smtp(8) refuses
      // it there too rather than ignore what the admin asked for.
      if (val.empty()) return bad("attribute \"match\" has empty value");
      if (e.level < TlsLevel::kFingerprint) {
        return bad("attribute \"match\" invalid at security level \"" + std::string(TlsLevelName(e.level)) + "\"");
      }
      e.match.push_back(val);
    } else if (name == "protocols") {
      int lo, hi;
      if (!ProtocolRange(val, &lo, &hi, nullptr)) return bad("invalid protocols=" + Printable(val, 60));
      e.protocols = val;
    } else if (name == "ciphers") {
      if (!CipherGrade(val)) return bad("invalid ciphers=" + Printable(val, 40));
      e.ciphers = CipherGrade(val);
    } else if (name == "exclude") {
      e.exclude = val;
    } else if (name == "servername") {
      e.servername = val;
    } else if (name == "tafile" || name == "connection_reuse" || name == "enable_rpk") {
      // Accepted for compatibility; no effect on a one-message client.
    } else {
      return bad("unknown attribute " + Printable(name, 40));
    }
  }
  return e;
}

}  // namespace

std::vector<std::string> TlsPolicyKeys(const std::string& nexthop, const std::string& domain, bool bracketed,
                                       bool has_port) {
  std::vector<std::string> keys = {nexthop};
  if (!bracketed && !has_port) {
    for (auto dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1)) {
      keys.push_back(domain.substr(dot));
    }
  }
  return keys;
}

std::optional<Failure> CertMatchListProblem(const std::string& param, const std::string& value) {
  if (!Split(value, kListSeparators).empty()) return std::nullopt;
  const char* dflt = param == "smtp_tls_secure_cert_match" ? "nexthop, dot-nexthop" : "hostname";
  return ConfigProblem(param + " is empty: no certificate name could ever be accepted, so deliveries that verify "
                               "a certificate defer")
      .WithFix("set " + param + " = " + dflt + " (the default), or remove the line")
      .WithSetting(param);
}

std::optional<Failure> ProtocolListProblem(const std::string& param, const std::string& value) {
  int lo, hi;
  if (value.empty() || ProtocolRange(value, &lo, &hi, nullptr)) return std::nullopt;
  return ConfigProblem(param + " = " + Printable(value, 100) + " is not a protocol list")
      .WithFix("use e.g. " + param + " = >=TLSv1.2 (or TLSv1.2, TLSv1.3, or !SSLv2, !SSLv3)")
      .WithSetting(param);
}

Result<TlsDecision> ResolveTlsPolicy(const TlsSettings& s, const TlsDestination& dest, bool have_credentials,
                                     const std::optional<std::string>& policy_entry) {
  TlsDecision out;
  TlsPolicy& p = out.policy;
  // smtp(8) refuses to start with an empty certificate match list, whatever
  // the level: fail closed the same way.
  for (auto [param, value] : {std::pair{"smtp_tls_secure_cert_match", &s.secure_cert_match},
                              std::pair{"smtp_tls_verify_cert_match", &s.verify_cert_match}}) {
    if (auto problem = CertMatchListProblem(param, *value)) return std::move(*problem);
  }
  // The policy is looked up per next hop but applies per server host: a
  // policy-map hit keeps the MX host for "hostname", SNI and the cache key.
  TlsDestination d = dest;
  if (d.server_host.empty()) d.server_host = d.domain;

  std::optional<PolicyEntry> entry;
  if (policy_entry) {
    auto e = ParseEntry(*policy_entry, d);
    if (!e.ok()) return e.failure();
    entry = std::move(e).value();
  }

  // 1. The level. A policy-map hit overrides every main.cf setting.
  TlsLevel level;
  bool implicit_default = false;  // authrelay chose it, nobody configured it
  if (entry) {
    level = entry->level;
    out.level_why = "smtp_tls_policy_maps";
  } else if (s.configured_level) {
    level = *s.configured_level;
    out.level_why = "smtp_tls_security_level";
  } else if (have_credentials) {
    // deliberate: secure-with-credentials.
    implicit_default = true;
    level = std::max(TlsLevel::kSecure, s.legacy_level);
    out.level_why = "authrelay default for a next hop with credentials";
  } else if (s.legacy_set) {
    level = s.legacy_level;
    out.level_why = "smtp_use_tls/smtp_enforce_tls";
  } else {
    level = TlsLevel::kMay;
    out.level_why = "authrelay default";
  }
  // deliberate: implicit-tls-465. Implicit TLS cannot be opportunistic: the
  // connection is TLS or nothing, so the level is at least encrypt. This is
  // the only place the rule is written.
  out.implicit_tls = s.wrappermode || d.port == 465;
  if (s.wrappermode && level < TlsLevel::kEncrypt) {
    // smtp(8) will not connect in wrapper mode below encrypt.
    return ConfigProblem("smtp_tls_wrappermode = yes requires smtp_tls_security_level = encrypt or stronger (level " +
                         std::string(TlsLevelName(level)) + " from " + out.level_why + ")")
        .WithSetting("smtp_tls_wrappermode");
  }
  if (out.implicit_tls && level < TlsLevel::kEncrypt) {
    level = TlsLevel::kEncrypt;
    out.level_why += ", raised to encrypt for implicit TLS";
  }
  p.level = level;

  // 2. Protocols: smtp_tls_protocols at may, the mandatory list above it;
  // a policy entry's protocols= replaces either.
  p.protocols = level >= TlsLevel::kEncrypt ? s.mandatory_protocols : s.protocols;
  if (entry && entry->protocols) p.protocols = *entry->protocols;
  if (!entry || !entry->protocols) {
    const char* param = level >= TlsLevel::kEncrypt ? "smtp_tls_mandatory_protocols" : "smtp_tls_protocols";
    if (auto problem = ProtocolListProblem(param, p.protocols)) return std::move(*problem);
  }
  if (entry && entry->ciphers) p.ciphers = *entry->ciphers;
  if (entry && entry->exclude) p.exclude = *entry->exclude;

  // 3. Trust: CAs, client certificate, fingerprints, names.
  p.ca_file = s.ca_file;
  p.ca_path = s.ca_path;
  p.cert_file = s.cert_file;
  p.key_file = s.key_file;
  p.fingerprint_digest = s.fingerprint_digest.empty() ? "sha256" : s.fingerprint_digest;
  if (entry && !entry->match.empty()) {
    for (const auto& m : entry->match) {
      if (level == TlsLevel::kFingerprint) {
        for (const auto& f : Split(m, "|")) p.fingerprints.push_back(std::string(Trim(f)));
      } else {
        for (const auto& n : Split(m, ":, \t")) p.match_names.push_back(MatchName(n, d));
      }
    }
  } else if (level == TlsLevel::kFingerprint) {
    // Fingerprints contain colons: smtp(8) splits this list on commas and
    // white space only.
    for (const auto& fp : Split(s.fingerprint_cert_match, ", \t\r\n")) p.fingerprints.push_back(fp);
  } else if (level >= TlsLevel::kVerify) {
    bool secure = level == TlsLevel::kSecure;
    if (implicit_default && IsAddress(d.domain)) {
      // deliberate: ip-san-default. Toward an address next hop
      // ("[192.0.2.1]:587") "nexthop" and "hostname" stand for the address,
      // checked against an IP subjectAltName; "dot-nexthop" means nothing
      // for an address; names the admin wrote still count.
      for (const std::string& word : Split(s.secure_cert_match, kListSeparators)) {
        std::string l = Lowercase(word);
        if (l == "dot-nexthop") continue;
        std::string name = l == "nexthop" || l == "hostname" ? d.domain : word;
        if (std::find(p.match_names.begin(), p.match_names.end(), name) == p.match_names.end()) {
          p.match_names.push_back(name);
        }
      }
      if (p.match_names.empty() && !Split(s.secure_cert_match, kListSeparators).empty()) {
        // Only "dot-nexthop" was listed: keep smtp(8)'s expansion, which no
        // certificate matches, so the attempt fails at verification as
        // smtp(8)'s does rather than as a configuration problem.
        p.match_names.push_back("." + d.domain);
      }
      p.name_hint = "the certificate must carry the IP address " + d.domain +
                    " as a subjectAltName; or write the next hop with the host name the certificate names "
                    "([smtp.example.com]:" + std::to_string(d.port) + ")";
    } else {
      // smtp(8) splits these lists on commas, white space and colons.
      // Toward an address "nexthop" and "hostname" expand to it, and only
      // then is the certificate's IP subjectAltName required (with any host
      // name listed besides); a list of host names only is matched as
      // names, even toward an address, as smtp(8) does.
      const std::string& match = secure ? s.secure_cert_match : s.verify_cert_match;
      for (const std::string& word : Split(match, kListSeparators)) p.match_names.push_back(MatchName(word, d));
    }
    if (p.match_names.empty()) {
      // Fail closed: an empty list would accept a certificate for any name
      // (refused at the top already; kept so no later change can open it).
      const std::string param = secure ? "smtp_tls_secure_cert_match" : "smtp_tls_verify_cert_match";
      return std::move(*CertMatchListProblem(param, ""));
    }
  }
  if (level == TlsLevel::kFingerprint && p.fingerprints.empty()) {
    return ConfigProblem("next hop " + d.nexthop + " is at security level fingerprint, but there are no "
                         "fingerprints to match (set smtp_tls_fingerprint_cert_match, or match= in the "
                         "smtp_tls_policy_maps entry)");
  }

  // 4. SNI. deliberate: sni-by-default (the server host name).
  std::string sni = Lowercase(Trim(entry && entry->servername ? *entry->servername : s.servername));
  if (sni.empty() || sni == "hostname") p.server_name = d.server_host;
  else if (sni == "nexthop") p.server_name = d.domain;
  else p.server_name = entry && entry->servername ? *entry->servername : s.servername;
  if (IsAddress(p.server_name)) p.server_name.clear();  // SNI carries host names only (RFC 6066 section 3)

  // 5. Session cache: keyed by next hop, server host and port (and, in
  // TlsClient, by every policy field above).
  p.session_cache_file = s.session_cache_file;
  p.session_cache_timeout = s.session_cache_timeout;
  p.session_peer = dest.nexthop + "|" + d.server_host + ":" + std::to_string(d.port);
  return out;
}

}  // namespace authrelay
