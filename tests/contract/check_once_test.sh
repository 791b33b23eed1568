#!/bin/bash
# --check names each fault once, decided on what the failure is about (its
# cause and the setting at fault), never on its wording: a bad TLS setting
# that both the general check and every next hop meet is one error line; a
# TLS client configuration shared by next hops is built and judged once;
# faults that differ per next hop (their own policy-map entries) are each
# named.
# Usage: check_once_test.sh PATH/TO/authrelay
set -uo pipefail
BIN=$(readlink -f "$1")
. "$(dirname "$0")/../lib/harness.sh"
D=$(t_scratch check-once)
trap 'rm -rf "$D"' EXIT
printf '%s\n' 'compatibility_level = 3.6' 'smtp_tls_security_level = secure' > "$D/main.cf"
TWO='[a.example]:587, [b.example]:587'
count() {  # OUTPUT PATTERN: lines of OUTPUT that match
  grep -c -- "$2" <<<"$1"
}
expect_count() {  # WHAT N PATTERN -- --check ARGS...
  local what=$1 n=$2 pattern=$3; shift 4
  local out
  out=$("$BIN" -c "$D" --check "$@" 2>&1)
  if [ "$(count "$out" "$pattern")" = "$n" ]; then ok "$what"; else bad "$what: want $n of '$pattern' in:"; echo "$out"; fi
}

expect_count "an empty smtp_tls_secure_cert_match: one error, not one per check" \
  1 '^error: smtp_tls_secure_cert_match' -- --nexthop="$TWO" -o smtp_tls_secure_cert_match=
expect_count "a CA file that does not exist: one error for the general check and two next hops" \
  1 '^error: smtp_tls_CAfile = /nonexistent/ca.pem does not exist' -- --nexthop="$TWO" \
  -o smtp_tls_CAfile=/nonexistent/ca.pem
expect_count "a client certificate that cannot load: one error for two next hops sharing the TLS settings" \
  1 '^error: cannot load smtp_tls_cert_file /nonexistent/cert.pem' -- --nexthop="$TWO" \
  -o smtp_tls_cert_file=/nonexistent/cert.pem
expect_count "a bad smtp_tls_mandatory_protocols: one error for the general check and two next hops" \
  1 '^error: smtp_tls_mandatory_protocols = ' -- --nexthop="$TWO" -o 'smtp_tls_mandatory_protocols=>=TLSv9'
expect_count "smtp_tls_wrappermode below encrypt: one error for two next hops" \
  1 '^error: smtp_tls_wrappermode = yes requires' -- --nexthop="$TWO" -o smtp_tls_wrappermode=yes \
  -o smtp_tls_security_level=may
printf '%s\n' '[a.example]:587 secure match=' '[b.example]:587 verify-ish' > "$D/tls_policy"
expect_count "two next hops with their own bad policy-map entries: both named" \
  2 '^error: TLS policy lookup for \[[ab].example\]:587' -- --nexthop="$TWO" \
  -o "smtp_tls_policy_maps=texthash:$D/tls_policy"
t_finish
