#!/bin/bash
# The ops flags against the real test smarthost: --probe shows
# TLS, chain, AUTH offered/chosen and a redacted transcript, its exit code
# equals a real delivery's for the same fault; --check run as the pipe user
# names each local problem with its fix; --json parses.
# Usage: ops_test.sh PATH/TO/authrelay
set -euo pipefail
E2E_BIN=$(readlink -f "$1")
source "$(dirname "$0")/lib.sh"
trap e2e_teardown EXIT
e2e_setup
R=$E2E_DIR/relay
S=$E2E_DIR/smarthost
BIN=$R/bin/authrelay
# A wrappermode listener on a port that is not 465, to probe "without TLS".
postconf -c "$S" -M "127.0.0.1:10465/inet = 127.0.0.1:10465 inet n - n - - smtpd -o syslog_name=smarthost/smtps2 -o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes"
ns postfix -c "$S" reload >/dev/null 2>&1
e2e_relay_conf "relayhost = [smarthost.test]:587" "smtp_sasl_auth_enable = yes" \
  "smtp_sasl_password_maps = hash:$R/sasl_passwd" "smtp_sasl_security_options = noanonymous" "smtp_helo_timeout = 3s"
as_user() { ns setpriv --reuid="$E2E_USER" --regid="$E2E_USER" --clear-groups env -i PATH=/usr/bin:/bin MAIL_CONFIG="$R" "$@"; }

# --- --probe ------------------------------------------------------------------------
out=$(as_user "$BIN" --probe '[smarthost.test]:587' --rcpt=someone@example.com 2>"$E2E_DIR/probe.err") && rc=0 || rc=$?
echo "$out" > "$E2E_DIR/probe.out"
if [ "$rc" = 0 ] && grep -q "^TLS: TLSv1.3 with cipher TLS_" <<<"$out" && grep -q "verified" <<<"$out" \
   && grep -q "depth 0: subject=/CN=DNS:smtp.gmail.com" <<<"$out" && grep -q "depth 1: subject=/CN=authrelay test CA" <<<"$out" \
   && grep -q "^AUTH offered: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256" <<<"$out" && grep -q "^AUTH chosen: " <<<"$out"; then
  ok "--probe shows TLS version, cipher, verified chain, offered and chosen AUTH"
else bad "--probe output: rc=$rc $out"; fi
if grep -q "> smarthost.test\[127.0.0.1\]: AUTH " "$E2E_DIR/probe.err" && grep -q "< smarthost.test\[127.0.0.1\]: 235" "$E2E_DIR/probe.err" \
   && grep -q "RCPT TO:<someone@example.com>" "$E2E_DIR/probe.err" && grep -q "RSET" "$E2E_DIR/probe.err"; then
  ok "--probe prints a transcript (AUTH, RCPT, RSET)"
else bad "--probe transcript: $(head -c 600 "$E2E_DIR/probe.err")"; fi
if ! grep -qaF "$E2E_PASSWORD" "$E2E_DIR/probe.out" "$E2E_DIR/probe.err" \
   && ! grep -qaF "$(printf '\0%s\0%s' alice@smarthost.test "$E2E_PASSWORD" | base64 -w0)" "$E2E_DIR/probe.err"; then
  ok "--probe transcript is redacted"
else bad "--probe leaked the password"; fi
json=$(as_user "$BIN" --probe '[smarthost.test]:587' --json 2>/dev/null) || true
if python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ok"] and d["tls"]["verified"] and d["auth_chosen"]' "$json"; then
  ok "--probe --json parses"
else bad "--probe --json: $json"; fi

# Each fault: the probe's exit code and status equal a real delivery's.
printf 'Subject: ops\n\nops test\n' > "$E2E_DIR/ops.eml"
same_as_delivery() {  # NAME NEXTHOP [-o ...]
  local name=$1 nh=$2; shift 2
  local p d prc drc
  p=$(as_user "$BIN" --probe "$nh" "$@" 2>/dev/null | sed -n 's/^result: //p') && prc=0 || prc=$?
  d=$(as_user "$BIN" "--nexthop=$nh" --sender=ops@example.org --queue-id=OPS "$@" -- r@example.com < "$E2E_DIR/ops.eml") && drc=0 || drc=$?
  if [ "$prc" = "$drc" ] && [ "$prc" != 0 ] && [ "${p%% *}" = "${d%% *}" ]; then ok "$name: probe and delivery both exit $prc with ${p%% *} ($d)"
  else bad "$name: probe $prc '$p' vs delivery $drc '$d'"; fi
}
same_as_delivery "wrong password" '[wrongpw.test]:587'
printf 'not a CA\n' > "$E2E_DIR/notca.pem"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other CA" -keyout "$E2E_DIR/other.key" -out "$E2E_DIR/other-ca.pem" 2>/dev/null
chmod 644 "$E2E_DIR/other-ca.pem"
same_as_delivery "wrong CA" '[smarthost.test]:587' -o "smtp_tls_CAfile=$E2E_DIR/other-ca.pem"
same_as_delivery "closed port" '[smarthost.test]:2600'
same_as_delivery "implicit-TLS listener probed without TLS" '[smarthost.test]:10465'
p=$(as_user "$BIN" --probe '[smarthost.test]:10465' 2>/dev/null || true)
grep -q "^fix: .*smtp_tls_wrappermode = yes" <<<"$p" && ok "the TLS-mode mismatch comes with its fix" || bad "no fix for TLS mode: $p"
p=$(as_user "$BIN" --probe '[wrongpw.test]:587' 2>/dev/null || true)
grep -q "^fix: the server rejected the username or password" <<<"$p" && ok "wrong password comes with its fix" || bad "no fix for 535: $p"

# --- every mechanism the Cyrus client offers, against the real smarthost -----------------
for m in PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256; do
  p=$(as_user "$BIN" --probe '[smarthost.test]:587' -o smtp_sasl_mechanism_filter=$m \
      -o smtp_sasl_tls_verified_security_options=noanonymous 2>/dev/null) && rc=0 || rc=$?
  [ "$rc" = 0 ] && grep -q "^AUTH chosen: $m\$" <<<"$p" && ok "AUTH $m against the real smarthost" || bad "AUTH $m: rc=$rc $p"
done
# A Postfix string list: postconf(5)'s own form "!name, ..., static:rest" excludes some names;
# negations alone match nothing, as in smtp(8).
p=$(as_user "$BIN" --probe '[smarthost.test]:587' -o 'smtp_sasl_mechanism_filter=!scram-sha-256, !cram-md5, static:rest' 2>/dev/null) || true
grep -q "^AUTH chosen: \(PLAIN\|LOGIN\)$" <<<"$p" && ok "mechanism filter with !name excludes" || bad "!name filter: $p"
p=$(as_user "$BIN" --probe '[smarthost.test]:587' -o 'smtp_sasl_mechanism_filter=!scram-sha-256, !cram-md5' 2>/dev/null) || true
grep -q "^AUTH chosen: (none)$" <<<"$p" && ok "a filter of negations alone allows no mechanism" || bad "negations only: $p"
printf 'cram-md5 ok\n' > "$E2E_DIR/mechtable"; chmod 644 "$E2E_DIR/mechtable"
p=$(as_user "$BIN" --probe '[smarthost.test]:587' -o "smtp_sasl_mechanism_filter=texthash:$E2E_DIR/mechtable" 2>/dev/null) || true
grep -q "^AUTH chosen: CRAM-MD5$" <<<"$p" && ok "mechanism filter from a type:table" || bad "type:table filter: $p"
printf '# allowed\nlogin\n' > "$E2E_DIR/mechs"; chmod 644 "$E2E_DIR/mechs"
p=$(as_user "$BIN" --probe '[smarthost.test]:587' -o "smtp_sasl_mechanism_filter=$E2E_DIR/mechs" 2>/dev/null) || true
grep -q "^AUTH chosen: LOGIN$" <<<"$p" && ok "mechanism filter from a /file" || bad "/file filter: $p"
p=$(as_user "$BIN" --probe '[smarthost.test]:587' -o smtp_sasl_mechanism_filter=plain \
    -o "smtp_sasl_tls_verified_security_options=noplaintext" 2>/dev/null) && rc=0 || rc=$?
[ "$rc" = 75 ] && grep -q "^result: 4.7.0 " <<<"$p" && ok "security options for verified TLS are applied (noplaintext leaves nothing)" \
  || bad "verified security options: rc=$rc $p"

# --- --check as the pipe user ----------------------------------------------------------------
# TLS session resumption across deliveries (two processes), against the
# real smarthost: the second delivery resumes the session the first saved.
mkdir -p "$E2E_DIR/cache"; chown "$E2E_USER" "$E2E_DIR/cache"; chmod 700 "$E2E_DIR/cache"
for i in 1 2; do
  as_user "$BIN" -v -o "authrelay_tls_session_cache=$E2E_DIR/cache/tls_session_cache" --nexthop='[smarthost.test]:587' \
    --sender=ops@example.org --queue-id=RESUME$i -- r@example.com < "$E2E_DIR/ops.eml" > "$E2E_DIR/resume$i.out" 2>&1 || true
done
grep -q "RESUME1: Verified TLS connection established" "$R/log/authrelay.log" \
  && ! grep -q "RESUME1: .*Reusing old session" "$R/log/authrelay.log" \
  && grep -q "RESUME2: smarthost.test\[127.0.0.1\]:587: Reusing old session" "$R/log/authrelay.log" \
  && grep -q "RESUME2: Verified TLS connection established" "$R/log/authrelay.log" \
  && grep -q "Ok: queued as" "$E2E_DIR/resume2.out" \
  && [ "$(stat -c '%U %a' "$E2E_DIR/cache/tls_session_cache")" = "$E2E_USER 600" ] \
  && ok "second delivery resumed the first one's TLS session (cache file 600, owned by the pipe user)" \
  || bad "TLS resumption: $(cat "$E2E_DIR"/resume*.out; grep RESUME "$R/log/authrelay.log")"

run_check() { as_user "$BIN" --check "$@" 2>/dev/null; }
out=$(run_check) && rc=0 || rc=$?
[ "$rc" = 0 ] && grep -q "next hop \[smarthost.test\]:587: TLS secure" <<<"$out" && grep -q "AUTH as alice@smarthost.test" <<<"$out" \
  && ok "--check on a good setup: exit 0, policy per next hop" || bad "--check good: rc=$rc $out"
chmod 600 "$R/sasl_passwd.db"; chown root:root "$R/sasl_passwd.db"
out=$(run_check) && rc=0 || rc=$?
[ "$rc" = 75 ] && grep -q "error: cannot read $R/sasl_passwd.db as user $E2E_USER" <<<"$out" && grep -q "fix: .*chmod 640" <<<"$out" \
  && ok "--check names the map unreadable by the pipe user, with the fix" || bad "--check unreadable: rc=$rc $out"
chgrp "$E2E_USER" "$R/sasl_passwd.db"; chmod 640 "$R/sasl_passwd.db"
touch -d '-1 hour' "$R/sasl_passwd.db"
out=$(run_check) && rc=0 || rc=$?
grep -q "warning: database $R/sasl_passwd.db is older than source file $R/sasl_passwd" <<<"$out" && grep -q "fix: run: postmap" <<<"$out" \
  && ok "--check names a map older than its source, with the fix" || bad "--check stale: $out"
touch "$R/sasl_passwd.db"
out=$(run_check -o smtp_tls_CAfile=/etc/postfix/no-such-ca.pem) && rc=0 || rc=$?
[ "$rc" = 75 ] && grep -q "error: smtp_tls_CAfile = /etc/postfix/no-such-ca.pem does not exist" <<<"$out" \
  && grep -q "fix: .*leave smtp_tls_CAfile and smtp_tls_CApath empty for the system trust store" <<<"$out" \
  && ok "--check names a missing CA file" || bad "--check CA: rc=$rc $out"
out=$(run_check -o smtp_tls_security_level=encrypt) && rc=0 || rc=$?
grep -q "warning: credentials for \[smarthost.test\]:587 would be sent over TLS that is not verified" <<<"$out" \
  && grep -q "fix: set smtp_tls_security_level = secure" <<<"$out" && ok "--check warns about credentials over unverified TLS" \
  || bad "--check unverified: $out"
json=$(run_check --json -o smtp_tls_security_level=encrypt || true)
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["nexthops"][0]["tls_level"]=="encrypt" and any(p["severity"]=="warning" for p in d["problems"])' "$json" \
  && ok "--check --json parses" || bad "--check --json: $json"
out=$(as_user "$BIN" --lookup '[smarthost.test]:587' 2>/dev/null) || true
grep -q "smarthost.test: not found" <<<"$out" && grep -q "\[smarthost.test\]:587: found in hash:" <<<"$out" \
  && grep -q "password <hidden, len=" <<<"$out" && ! grep -qF "$E2E_PASSWORD" <<<"$out" \
  && ok "--lookup shows each key tried and masks the password" || bad "--lookup: $out"

e2e_finish
