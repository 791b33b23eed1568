#!/bin/bash
# The .deb: lintian reports no errors, dpkg -i installs it,
# man authrelay shows the page, and authrelay-setup followed by sendmail
# delivers through the test smarthost. Removes the package afterwards.
# Usage: package_test.sh BUILD_DIR   (as root; installs into /usr)
set -euo pipefail
BUILD=$(readlink -f "$1")
(cd "$BUILD" && cpack -G DEB >/dev/null)
DEB=$(ls -t "$BUILD"/authrelay_*_amd64.deb | head -1)
E2E_BIN=/usr/libexec/authrelay/authrelay
source "$(dirname "$0")/lib.sh"
user_existed=0; getent passwd authrelay >/dev/null && user_existed=1
cleanup() {
  e2e_teardown
  dpkg -r authrelay >/dev/null 2>&1 || true
  [ "$user_existed" = 1 ] || userdel authrelay 2>/dev/null || true
}
trap cleanup EXIT

lint=$(lintian "$DEB" 2>&1 | grep -v 'running with root privileges' || true)
if grep -q '^E:' <<<"$lint"; then bad "lintian errors: $lint"; else ok "lintian: no errors (${lint:-clean})"; fi
dpkg -i "$DEB" >/dev/null
[ -x /usr/libexec/authrelay/authrelay ] && [ -x /usr/libexec/authrelay/authrelay-reuse ] \
  && [ -x /usr/libexec/authrelay/authrelay-setup ] \
  && ok "dpkg -i installed both programs and the setup script under /usr/libexec/authrelay" || bad "files missing after dpkg -i"
# authrelay-reuse (what master.cf runs with connection sharing on) must not
# list OpenSSL or Cyrus SASL: a delivery over a held session would load them.
if readelf -d /usr/libexec/authrelay/authrelay-reuse | grep NEEDED | grep -Eq 'libssl|libcrypto|libsasl2'; then
  bad "the installed authrelay-reuse lists libssl/libcrypto/libsasl2"
else
  ok "the installed authrelay-reuse lists no libssl, libcrypto or libsasl2"
fi
man -P cat authrelay 2>/dev/null | grep -qE "authrelay +- +Postfix +pipe\(8\) +transport" && ok "man authrelay shows the page" \
  || bad "man authrelay"
/usr/libexec/authrelay/authrelay --version | grep -q "Cyrus SASL client mechanisms: .*PLAIN" && ok "--version lists SASL mechanisms" \
  || bad "--version"

e2e_setup
R=$E2E_DIR/relay
SETUP=/usr/libexec/authrelay/authrelay-setup
args=(-c "$R" --user authrelay --map "hash:$R/sasl_passwd" --relayhost "[smarthost.test]:587")
before=$(cat "$R/master.cf" "$R/main.cf" | md5sum)
dry=$(ns "$SETUP" --dry-run "${args[@]}")
after=$(cat "$R/master.cf" "$R/main.cf" | md5sum)
[ "$before" = "$after" ] && grep -q "would run: postconf -c" <<<"$dry" && ok "--dry-run shows the changes and makes none" \
  || bad "dry run changed files or said nothing: $dry"
ns "$SETUP" "${args[@]}" > "$E2E_DIR/setup1.log"
getent passwd authrelay >/dev/null && ok "setup created the system user" || bad "no authrelay user"
first=$(cat "$R/master.cf" "$R/main.cf" | md5sum)
second_out=$(ns "$SETUP" "${args[@]}")
second=$(cat "$R/master.cf" "$R/main.cf" | md5sum)
[ "$first" = "$second" ] && ! grep -q "would run\|^postconf" <<<"$second_out" && ok "setup is idempotent (second run changes nothing)" \
  || bad "second run changed something: $second_out"
[ "$(postconf -c "$R" -M authrelay/unix | grep -c .)" = 1 ] && postconf -c "$R" -M authrelay/unix | grep -q "user=authrelay " \
  && postconf -c "$R" -M authrelay/unix | grep -q "argv=/usr/libexec/authrelay/authrelay --nexthop=" \
  && ok "one master.cf entry, running the installed binary as authrelay" || bad "master.cf: $(postconf -c "$R" -M authrelay/unix)"
[ "$(stat -c '%G %a' "$R/sasl_passwd.db")" = "authrelay 640" ] && ok "map group authrelay, mode 640" \
  || bad "map perms: $(stat -c '%G %a' "$R/sasl_passwd.db")"
# The harness sets authrelay's own settings in main.cf (the old place):
# setup moved them to authrelay.cf, and postconf has nothing to warn about.
grep -q "^authrelay_log_file = " "$R/authrelay.cf" && ! postconf -c "$R" -n 2>&1 >/dev/null | grep -q "unused parameter" \
  && ok "setup moved authrelay's own settings to authrelay.cf: postconf -n warns about nothing" \
  || bad "after setup: $(cat "$R/authrelay.cf"; postconf -c "$R" -n 2>&1 >/dev/null)"
chown authrelay "$R/log"
# The shipped default cache location (the harness points its relay elsewhere).
# A cache file left there by an earlier run on this machine is not this
# package's: start from what a fresh install has.
sed -i '/^authrelay_tls_session_cache = /d' "$R/authrelay.cf"
rm -f /var/lib/authrelay/tls_session_cache
printf 'From: pkg@example.org\nSubject: package\nMessage-ID: <pkg-1@e2e.test>\n\nvia the installed package\n' > "$E2E_DIR/pkg.eml"
e2e_send pkg@example.org someone@example.com "$E2E_DIR/pkg.eml"
if e2e_wait_maildir "pkg-1@e2e.test" >/dev/null; then ok "setup + sendmail delivered through the smarthost"
else bad "not delivered: $(tail -3 "$R/maillog")"; fi
[ "$(stat -c '%U %a' /var/lib/authrelay)" = "authrelay 700" ] && ok "setup made /var/lib/authrelay private to the pipe user" \
  || bad "/var/lib/authrelay: $(stat -c '%U %a' /var/lib/authrelay 2>&1)"
[ "$(stat -c '%U %a' /var/lib/authrelay/tls_session_cache 2>&1)" = "authrelay 600" ] \
  && ok "the delivery saved its TLS session in the default cache, mode 600" \
  || bad "no TLS session cache: $(stat -c '%U %a' /var/lib/authrelay/tls_session_cache 2>&1)"

# --reuse: sharing on, and master.cf runs the installed authrelay-reuse;
# the second of two messages goes over the session the first one left.
ns "$SETUP" "${args[@]}" --reuse > "$E2E_DIR/setup3.log"
postconf -c "$R" -e "smtp_connection_cache_time_limit = 30s"  # a slow queue must not idle it out
postconf -c "$R" -M authrelay/unix | grep -q "argv=/usr/libexec/authrelay/authrelay-reuse --nexthop=" \
  && grep -rq "^authrelay_connection_reuse = yes" "$R/main.cf" "$R/authrelay.cf" \
  && ok "setup --reuse: sharing on, master.cf runs authrelay-reuse" || bad "setup --reuse: $(postconf -c "$R" -M authrelay/unix)"
for n in 2 3; do
  printf 'From: pkg@example.org\nSubject: package %s\nMessage-ID: <pkg-%s@e2e.test>\n\nshared\n' "$n" "$n" > "$E2E_DIR/pkg$n.eml"
  e2e_send pkg@example.org someone@example.com "$E2E_DIR/pkg$n.eml"
  e2e_wait_maildir "pkg-$n@e2e.test" >/dev/null || bad "message $n not delivered: $(tail -3 "$R/maillog")"
done
grep -q "conn_use=2" "$R/maillog" "$R/log/authrelay.log" 2>/dev/null && ok "with --reuse the next message reused the held session (conn_use=2)" \
  || bad "no reuse: $(grep -h "status=" "$R/log/authrelay.log" | tail -2)"

e2e_finish
