#!/bin/bash
# Connection sharing (src/share) against tests/share/smtp_server.py, which
# records every connection, AUTH and message. authrelay runs as the pipe
# user would (nobody; a second user, daemon, for the other-user case) in a
# network namespace where mx.test is 127.0.0.1.
#
#   tests/share/share_test.sh BUILD/authrelay     (as root)
#
# Cases: reuse (one connection, N transactions, conn_use logged, the
# delivery ends at once); the holder's hygiene (not dumpable, no core, no
# inherited descriptors, own session, no secret in its log); a key
# mismatch never reuses (other CA file, other TLS policy, other or changed
# credentials map, other pipe user); a holder of another user is ignored;
# the server closing an idle session costs a new connection only; the idle,
# count and time limits; a holder SIGKILLed while a reusing delivery waits
# at RSET, MAIL, RCPT, DATA and the final dot: the right deferral and no lost
# mail.
set -euo pipefail
BIN=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
T_PREFIX="share: " T_FD=2
. "$HERE/../lib/harness.sh"
. "$HERE/../lib/share.sh"
T=$(t_scratch share)
chmod 755 "$T"
NS=authrelay-share-$$
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  # Holders are ours: every authrelay process of the test users whose
  # namespace is ours.
  t_netns_remove
  if [ "$failed" = 0 ]; then rm -rf "$T"; else echo "share: kept $T" >&2; fi
}
trap cleanup EXIT

t_netns "$NS" mx.test

t_certs "$T/certs"
cp "$T/certs/ca.pem" "$T/certs/ca-copy.pem"
PASSWORD="share-$(t_random_hex)-secret"
t_keep_secret share "$PASSWORD"

holder_pid() {  # DIR: the newest holder's pid, from its log line
  grep 'holding the session' "$1/log" | tail -1 | sed -E 's/.*authrelay\[([0-9]+)\].*/\1/'
}
holders_gone() {  # DIR: no socket left
  ! ls "$1/share" 2>/dev/null | grep -qv '^key$'
}

A=$T/nobody
config nobody "$A"

# ---- reuse --------------------------------------------------------------
start_server reuse
write_map "$A" sasl_passwd
deliver nobody "$A"
check "first delivery sent (rc=$RC: $OUT)" '[ "$RC" = 0 ]'
check "first delivery returns at once although its session is held (${SECS}s)" \
  'awk -v s="$SECS" "BEGIN { exit !(s < 3) }"'
for i in 2 3 4 5; do deliver nobody "$A"; [ "$RC" = 0 ] || bad "delivery $i: rc=$RC $OUT"; done
check "5 deliveries over 1 connection (connections $(count connect), messages $(count message), AUTH $(count auth))" \
  '[ "$(count connect)" = 1 ] && [ "$(count message)" = 5 ] && [ "$(count auth)" = 1 ]'
check "the log says conn_use=2..5" 'for u in 2 3 4 5; do grep -q "conn_use=$u, " "$A/log" || exit 1; done'
check "a reusing delivery returns at once too (${SECS}s)" 'awk -v s="$SECS" "BEGIN { exit !(s < 3) }"'
# authrelay itself (what master.cf runs when it does not run
# authrelay-reuse) delivers over a held session too, only at a higher cost.
SAVED_BIN=$BIN
BIN=$(dirname "$BIN")/authrelay
deliver nobody "$A"
BIN=$SAVED_BIN
check "authrelay itself delivers over the held session too (rc=$RC)" \
  '[ "$RC" = 0 ] && grep -q "conn_use=6, " "$A/log" && [ "$(count connect)" = 1 ]'

# What a reusing delivery must not pay: OpenSSL's configuration and
# context, the CA file, Cyrus SASL's plugins (all of them are opened by a
# direct delivery, which is checked too, so the check can see them).
trace_delivery() {  # OUTFILE [authrelay options...]
  local out=$1; shift
  N=$((N + 1))
  printf 'Subject: traced\n\ntraced\n' |
    ns strace -f -qq -e trace=openat,connect -o "$out" setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
      env -i PATH=/usr/bin:/bin MAIL_CONFIG="$A" "$BIN" --nexthop="[mx.test]:$PORT" --sender=s@example.org \
      "$@" -- "r$N@example.com" >/dev/null
}
trace_delivery "$T/strace.reused"
check "a reusing delivery opens no openssl.cnf, CA file or SASL plugin, and makes no TCP connection" \
  '! grep -Eq "openssl.cnf|ca.pem|sasl2/|AF_INET" "$T/strace.reused" && grep -q "AF_UNIX.*share" "$T/strace.reused"'
trace_delivery "$T/strace.direct" -o authrelay_connection_reuse=no
check "(control) a direct delivery does open them" \
  'grep -q openssl.cnf "$T/strace.direct" && grep -q ca.pem "$T/strace.direct" && grep -q "AF_INET" "$T/strace.direct"'
# Nor load OpenSSL's or Cyrus's libraries: loading and relocating them was
# most of what such a delivery cost (authrelay-reuse does not link them;
# a direct delivery runs authrelay, which does).
check "a reusing delivery loads no libssl, libcrypto or libsasl2" \
  '! grep -Eq "libssl\.so|libcrypto\.so|libsasl2\.so" "$T/strace.reused" && grep -q "libc\.so" "$T/strace.reused"'
check "(control) a direct delivery does load them" \
  'grep -q "libssl\.so" "$T/strace.direct" && grep -q "libsasl2\.so" "$T/strace.direct"'
# ---- the holder's hygiene -----------------------------------------------
HP=$(holder_pid "$A")
check "holder $HP is alive" '[ -n "$HP" ] && kill -0 "$HP"'
check "holder is not dumpable (its /proc files belong to root)" '[ "$(stat -c %U /proc/$HP/status)" = root ]'
check "holder has no core limit" 'grep -Eq "^Max core file size +0 +0" /proc/$HP/limits'
check "holder runs as the pipe user" '[ "$(awk "/^Uid:/ {print \$2}" /proc/$HP/status)" = "$(id -u nobody)" ]'
FDS=$(ls -l /proc/$HP/fd 2>/dev/null | awk 'NR > 1 {print $NF}' | sort | tr '\n' ' ' || true)
check "holder keeps only /dev/null x3, the server socket, its listening socket, its log ($FDS)" \
  '[ "$(ls /proc/$HP/fd | wc -l)" -le 6 ] && [ "$(ls -l /proc/$HP/fd | grep -c /dev/null)" = 3 ] && ! ls -l /proc/$HP/fd | grep -q pipe:'
HCMD=$(tr '\0' ' ' < /proc/$HP/cmdline)
check "ps shows the holder by its server, not the delivery's addresses ($HCMD)" \
  'grep -q "^authrelay: holder mx.test\[127.0.0.1\]:$PORT" <<<"$HCMD" && ! grep -q "@" <<<"$HCMD"'
check "holder is in its own session, not the test's" '[ "$(ps -o sess= -p $HP)" != "$(ps -o sess= -p $$)" ]'
check "no secret in the log" '! grep -qF "$PASSWORD" "$A/log"'
check "the directory is 0700 and the key file 0600" \
  '[ "$(stat -c %a "$A/share")" = 700 ] && [ "$(stat -c %a "$A/share/key")" = 600 ]'
CHECKOUT=$(ns setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env -i PATH=/usr/bin:/bin \
  MAIL_CONFIG="$A" "$BIN" --check 2>&1 || true)
check "--check shows the held session" 'grep -q "held session.*mx.test\[127.0.0.1\]:$PORT" <<<"$CHECKOUT"'

# ---- a key mismatch never reuses ----------------------------------------
conns=$(count connect)
deliver nobody "$A" -o smtp_tls_CAfile="$T/certs/ca-copy.pem"
check "other CA file: new connection (rc=$RC)" '[ "$RC" = 0 ] && [ "$(count connect)" = $((conns + 1)) ]'
deliver nobody "$A" -o smtp_tls_security_level=verify
check "other TLS policy: new connection (rc=$RC)" '[ "$RC" = 0 ] && [ "$(count connect)" = $((conns + 2)) ]'
write_map "$A" sasl_passwd2
deliver nobody "$A" -o smtp_sasl_password_maps="texthash:$A/sasl_passwd2"
check "other credentials map: new connection (rc=$RC)" '[ "$RC" = 0 ] && [ "$(count connect)" = $((conns + 3)) ]'
sleep 0.02; touch "$A/sasl_passwd"
deliver nobody "$A"
check "changed credentials map: new connection (rc=$RC)" '[ "$RC" = 0 ] && [ "$(count connect)" = $((conns + 4)) ]'
D=$T/daemon
config daemon "$D"
write_map "$D" sasl_passwd
deliver daemon "$D"
check "other pipe user: new connection (rc=$RC)" '[ "$RC" = 0 ] && [ "$(count connect)" = $((conns + 5)) ]'
# The other user pointed at nobody's directory: refused, delivered directly.
deliver daemon "$D" -o authrelay_connection_reuse_directory="$A/share"
check "another user's directory is not used (rc=$RC)" \
  '[ "$RC" = 0 ] && [ "$(count connect)" = $((conns + 6)) ] && grep -q "connection sharing directory unusable" "$D/log"'
check "messages so far all arrived once ($(count message))" '[ "$(count message)" = 14 ]'

# ---- the server closes an idle session ----------------------------------
for p in $(ip netns pids "$NS"); do [ "$p" = "$SERVER_PID" ] || kill -9 "$p" 2>/dev/null || true; done
rm -f "$A"/share/*.[0-9]*
start_server idle --idle-close 1
write_map "$A" sasl_passwd
deliver nobody "$A"
sleep 2
deliver nobody "$A"
check "server closed the idle session: next delivery sent on a new connection (rc=$RC)" \
  '[ "$RC" = 0 ] && [ "$(count connect)" = 2 ] && [ "$(count message)" = 2 ]'
check "the holder logged the server's 421" 'grep -q "closed: the server said 421" "$A/log"'

# ---- limits ---------------------------------------------------------------
start_server limits
write_map "$A" sasl_passwd
deliver nobody "$A" -o smtp_connection_cache_time_limit=1s
sleep 2
check "idle limit: holder gone, socket removed" 'holders_gone "$A" && grep -q "idle (smtp_connection_cache_time_limit)" "$A/log"'
deliver nobody "$A" -o smtp_connection_cache_time_limit=1s -o smtp_connection_reuse_count_limit=2
deliver nobody "$A" -o smtp_connection_cache_time_limit=1s -o smtp_connection_reuse_count_limit=2
sleep 0.5
check "count limit 2: holder closed after its second delivery" \
  'holders_gone "$A" && grep -q "reuse count limit reached" "$A/log" && [ "$(count connect)" = 2 ]'
deliver nobody "$A" -o smtp_connection_reuse_time_limit=2s
sleep 2.5
check "time limit: holder closed" 'holders_gone "$A" && grep -q "reuse time limit reached" "$A/log"'
# A client that attaches, starts its transaction and stalls without closing:
# the holder gives up once no delivery could still be running
# (authrelay_time_limit), not after a half-hour stall bound.
deliver nobody "$A" -o authrelay_time_limit=6s
HP=$(holder_pid "$A")
SOCK=$(ls "$A"/share/*.[0-9]* | head -1)
ns setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env -i PATH=/usr/bin:/bin python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1]); s.sendall(b"USE\n"); s.recv(4096)
s.sendall(b"\x00\x00\x00\x06RSET\r\n"); time.sleep(15)' "$SOCK" 2>"$T/stalled.err" &
STALLED=$!
sleep 8.5
check "a client stalled mid-transaction: its holder ends after authrelay_time_limit (6s)" \
  '[ -n "$HP" ] && ! kill -0 "$HP" 2>/dev/null && grep -q "stalled for longer than authrelay_time_limit (6s)" "$A/log"'
kill "$STALLED" 2>/dev/null || true; wait "$STALLED" 2>/dev/null || true
deliver nobody "$A"
check "after the limits: new connection, every message once ($(count connect) connections, $(count message) messages)" \
  '[ "$RC" = 0 ] && [ "$(count connect)" = 5 ] && [ "$(count message)" = 6 ]'
sleep 0.5

# ---- SIGKILL of the holder at every step of a reusing transaction --------
for stage in rset mail rcpt data dot; do
  for p in $(ip netns pids "$NS"); do [ "$p" = "$SERVER_PID" ] || kill -9 "$p" 2>/dev/null || true; done
  rm -f "$A"/share/*.[0-9]*
  start_server "kill-$stage" --stall "$stage" --stall-seconds 5
  write_map "$A" sasl_passwd
  deliver nobody "$A"
  [ "$RC" = 0 ] || bad "kill at $stage: first delivery rc=$RC $OUT"
  HP=$(holder_pid "$A")
  deliver nobody "$A" > /dev/null &
  bg=$!
  for _ in $(seq 100); do grep -q '"stall"' "$EV" && break; sleep 0.05; done
  kill -9 "$HP"
  wait "$bg" || true
  last=$(grep 'status=' "$A/log" | tail -1)
  msgs=$(count message)
  case $stage in
    rset)
      check "killed at RSET: delivered over a new connection ($msgs messages, $(count connect) connections)" \
        'grep -q "status=sent" <<<"$last" && [ "$msgs" = 2 ] && [ "$(count connect)" = 2 ]' ;;
    mail|rcpt|data)
      check "killed at ${stage^^}: deferred 4.4.2, nothing sent ($last)" \
        'grep -q "dsn=4.4.2, status=deferred (lost connection with mx.test\[127.0.0.1\] while" <<<"$last" && [ "$msgs" = 1 ]' ;;
    dot)
      check "killed after the final dot: deferred 4.4.2 'may be sent more than once' ($last)" \
        'grep -q "dsn=4.4.2, status=deferred (.*message may be sent more than once" <<<"$last" && [ "$msgs" = 2 ]' ;;
  esac
done

# The last holder above was SIGKILLed: its socket is stale. The next
# delivery removes it and connects directly.
check "a killed holder leaves a stale socket" 'ls "$A/share" | grep -qv "^key$"'
conns=$(count connect)
deliver nobody "$A" -v
check "a stale socket is removed and costs only a direct connection (rc=$RC)" \
  '[ "$RC" = 0 ] && [ "$(count connect)" = $((conns + 1)) ] && grep -q "removed stale socket" "$A/log"'

# A socket in our directory whose listener is another user (root planted
# it and gave the file to nobody): the client checks the peer, sends it
# nothing, and delivers directly.
name=$(ls "$A/share" | grep -v '^key$' | head -1)
HP=$(holder_pid "$A")
kill -9 "$HP" 2>/dev/null || true
rm -f "$A/share/$name"
python3 - "$A/share/$name" "$T/fake.bytes" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); os.chown(sys.argv[1], int(os.popen("id -u nobody").read()), -1); s.listen(4)
open(sys.argv[2], "w").close()
c, _ = s.accept()
c.settimeout(3)
try:
    data = c.recv(100)
except OSError:
    data = b""
open(sys.argv[2], "wb").write(data)
PY
fake=$!
for _ in $(seq 50); do [ -e "$T/fake.bytes" ] && break; sleep 0.05; done
conns=$(count connect)
deliver nobody "$A"
wait "$fake" 2>/dev/null || true
check "a holder socket of another user is ignored: nothing sent to it, delivered directly (rc=$RC)" \
  '[ "$RC" = 0 ] && [ "$(count connect)" = $((conns + 1)) ] && [ ! -s "$T/fake.bytes" ] && grep -q "its holder is not uid" "$A/log"'

if [ -n "${AUTHRELAY_TEST_ARTIFACTS:-}" ]; then
  mkdir -p "$AUTHRELAY_TEST_ARTIFACTS/share" && cp "$A/log" "$AUTHRELAY_TEST_ARTIFACTS/share/nobody.log" &&
    cp "$D/log" "$AUTHRELAY_TEST_ARTIFACTS/share/daemon.log"
fi
t_finish
