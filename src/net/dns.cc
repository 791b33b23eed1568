#include "net/dns.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>

#include "core/sanitize.h"

namespace authrelay {

Result<std::vector<MxHost>> LookupMx(const std::string& domain) {
  struct __res_state state {};
  if (res_ninit(&state) != 0) {
    return Failure("4.4.3", "Host or domain name not found. Name service error for name=" + Printable(domain, 200) +
                                " type=MX: resolver unavailable");
  }
  std::vector<unsigned char> answer(65536);
  int len = res_nquery(&state, domain.c_str(), ns_c_in, ns_t_mx, answer.data(), static_cast<int>(answer.size()));
  int herr = state.res_h_errno;
  res_nclose(&state);
  std::vector<MxHost> hosts;
  if (len < 0) {
    if (herr == NO_DATA) return std::vector<MxHost>{{0, domain}};  // no MX: the domain itself (RFC 5321 §5.1)
    bool permanent = herr == HOST_NOT_FOUND;
    return Failure(permanent ? "4.4.4" : "4.4.3",
                   "Host or domain name not found. Name service error for name=" + Printable(domain, 200) +
                       " type=MX: " + (permanent ? "Host not found" : "Host not found, try again"));
  }
  ns_msg msg;
  if (ns_initparse(answer.data(), len, &msg) != 0) {
    return Failure("4.4.3", "malformed DNS reply for name=" + Printable(domain, 200) + " type=MX");
  }
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3) continue;
    const unsigned char* rd = ns_rr_rdata(rr);
    MxHost mx;
    mx.preference = (rd[0] << 8) | rd[1];
    char name[NS_MAXDNAME];
    if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), rd + 2, name, sizeof name) < 0) continue;
    mx.host = name;
    if (mx.host.empty() || mx.host == ".") continue;  // null MX (RFC 7505): no mail
    hosts.push_back(std::move(mx));
  }
  if (hosts.empty()) return std::vector<MxHost>{{0, domain}};
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
  return hosts;
}

}  // namespace authrelay
