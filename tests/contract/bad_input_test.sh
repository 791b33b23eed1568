#!/bin/bash
# Contract tests: the built binary as pipe(8) runs it (unprivileged, clean
# environment), fed bad arguments, configs, maps and messages. For every
# case: the exit code and status class, exactly one line on stdout, nothing
# on stderr, no hang past the deadline. A real SMTP peer (Postfix's
# smtp-sink) takes the mail where delivery should succeed.
# Usage: bad_input_test.sh PATH/TO/authrelay   (as root)
set -uo pipefail
BIN=$(readlink -f "$1")
[ "$(id -u)" = 0 ] || { echo "must run as root"; exit 1; }
. "$(dirname "$0")/../lib/harness.sh"
D=$(t_scratch contract)
chmod 755 "$D"
RUNAS=nobody
install -m 755 "$BIN" "$D/authrelay"
SINK_PID=
cleanup() {
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  [ -n "${STALL_PID:-}" ] && kill "$STALL_PID" 2>/dev/null
  if [ -n "${AUTHRELAY_TEST_ARTIFACTS:-}" ]; then  # logs and outputs for tests/check_secrets.sh
    mkdir -p "$AUTHRELAY_TEST_ARTIFACTS/contract-$$" "$AUTHRELAY_TEST_ARTIFACTS/secrets"
    cp "$D/cf/authrelay.log" "$D/all-output" "$AUTHRELAY_TEST_ARTIFACTS/contract-$$/" 2>/dev/null
    [ -n "${SECRET:-}" ] && echo "$SECRET" > "$AUTHRELAY_TEST_ARTIFACTS/secrets/contract-$$"
  fi
  rm -rf "$D"
}
trap cleanup EXIT

PORT=$((20000 + RANDOM % 20000))
smtp-sink -u nobody 127.0.0.1:$PORT 50 &
SINK_PID=$!
sleep 0.5

mkdir -p "$D/cf"
base_cf() {
  cat > "$D/cf/main.cf" <<CF
myhostname = contract.test
authrelay_log_file = $D/cf/authrelay.log
smtp_helo_timeout = 5s
CF
  : > "$D/cf/authrelay.log"; chown "$RUNAS" "$D/cf/authrelay.log"
}
base_cf

# run NAME WANT_EXIT WANT_PREFIX STDIN_FILE ARGS...
run() {
  local name=$1 want_exit=$2 want_prefix=$3 input=$4; shift 4
  local out=$D/out err=$D/err rc
  setpriv --reuid="$RUNAS" --regid=nogroup --clear-groups env -i PATH=/usr/bin:/bin MAIL_CONFIG="$D/cf" LANG=C \
    timeout 30 "$D/authrelay" "$@" < "$input" > "$out" 2> "$err"
  rc=$?
  local lines; lines=$(wc -l < "$out")
  cat "$out" "$err" >> "$D/all-output"
  if [ "$rc" != "$want_exit" ]; then bad "$name: exit $rc, want $want_exit ($(head -c 300 "$out"))"; return; fi
  if [ "$lines" != 1 ]; then bad "$name: $lines lines on stdout"; return; fi
  if [ -s "$err" ]; then bad "$name: stderr not empty: $(head -c 200 "$err")"; return; fi
  if [[ "$(cat "$out")" != "$want_prefix"* ]]; then bad "$name: got '$(cat "$out")', want '$want_prefix...'"; return; fi
  ok "$name: $(head -c 150 "$out")"
}

echo "hello" > "$D/small.eml"
NH="--nexthop=[127.0.0.1]:$PORT"

# --- arguments -------------------------------------------------------------------
run "recipients that look like options" 0 "250" "$D/small.eml" "$NH" --sender=a@x.test -- -oQ@x.test --help@y.test
run "null sender" 0 "250" "$D/small.eml" "$NH" --sender= -- r@x.test
run "CR LF in a recipient bounces" 69 "5.1.3 " "$D/small.eml" "$NH" --sender=a@x.test -- $'r@x.test>\r\nRCPT TO:<evil@x.test'
run "CR LF in the sender bounces" 69 "5.1.7 " "$D/small.eml" "$NH" $'--sender=a@x.test>\r\nRSET' -- r@x.test
run "over-long recipient bounces" 69 "5.1.3 " "$D/small.eml" "$NH" --sender=a@x.test -- "$(head -c 300 /dev/zero | tr '\0' a)@x.test"
# One bad recipient among good ones: refused alone, nothing sent, the run defers (no good recipient bounced).
run "one over-long recipient among good ones defers" 75 "4.1.3 bad recipient address syntax: address longer than 254 octets" "$D/small.eml" "$NH" --sender=a@x.test -- good@x.test "$(head -c 300 /dev/zero | tr '\0' a)@x.test" other@x.test
run "one control character among good ones defers" 75 "4.1.3 bad recipient address syntax: control character" "$D/small.eml" "$NH" --sender=a@x.test -- good@x.test $'r\001@x.test'
# Addresses cannot add ESMTP parameters or leave the <...>.
run "sender adding AUTH= bounces" 69 "5.1.7 bad sender address syntax" "$D/small.eml" "$NH" '--sender=a@b> AUTH=<x@y>' -- r@x.test
run "recipient adding NOTIFY= goes out quoted" 0 "250" "$D/small.eml" "$NH" --sender=a@x.test -- 'r@a> NOTIFY=NEVER <z@example.org'
run "quoted recipient (flags=q) not quoted twice" 0 "250" "$D/small.eml" "$NH" --sender=a@x.test -- '"q r"@example.test'
run "no --nexthop defers" 75 "4.3.5 " "$D/small.eml" --sender=a@x.test -- r@x.test
run "no recipients defers" 75 "4.3.5 " "$D/small.eml" "$NH" --sender=a@x.test
run "unknown option defers" 75 "4.3.5 " "$D/small.eml" "$NH" --sender=a@x.test --frobnicate -- r@x.test
run "bad next hop defers" 75 "4.3.5 " "$D/small.eml" "--nexthop=[unclosed:25" --sender=a@x.test -- r@x.test

# --- configuration -----------------------------------------------------------------
printf 'myhostname = x\nthis is not a parameter\n' > "$D/cf/main.cf"
run "main.cf syntax error defers and names the line" 75 "4.3.5 mail system configuration error: main.cf, line 2" "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
base_cf; echo "smtp_tls_security_level = paranoid" >> "$D/cf/main.cf"
run "unknown TLS level defers" 75 "4.3.5 " "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
base_cf; echo "smtp_connect_timeout = soon" >> "$D/cf/main.cf"
run "bad time value defers" 75 "4.3.5 " "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
base_cf
run "missing config directory defers" 75 "4.3.5 " "$D/small.eml" -c /nonexistent "$NH" --sender=a@x.test -- r@x.test

base_cf; echo "smtp_bind_address = 192.0.2.1" >> "$D/cf/main.cf"
run "smtp_bind_address is used (an address not on this host cannot be bound)" 75 "4.4.1 connect to 127.0.0.1[127.0.0.1]:$PORT: cannot bind to local address 192.0.2.1" "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
base_cf; echo "smtp_bind_address = 127.0.0.1" >> "$D/cf/main.cf"
run "smtp_bind_address on this host works" 0 "250" "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
base_cf

# --- maps ------------------------------------------------------------------------------
sasl_cf() { base_cf; printf 'smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = %s\n' "$1" >> "$D/cf/main.cf"; }
SECRET="ct-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')-pw"
printf '[127.0.0.1]:%s user:%s\n' "$PORT" "$SECRET" > "$D/cf/map"
chgrp nogroup "$D/cf/map"; chmod 640 "$D/cf/map"
postmap -c "$D/cf" "hash:$D/cf/map" 2>/dev/null
cp -p "$D/cf/map.db" "$D/cf/good.db"
sasl_cf "hash:$D/cf/map"
# smtp-sink offers AUTH without TLS: credentials found, not sent in plaintext.
run "-v with credentials" 75 "4.7.4 " "$D/small.eml" -v "$NH" --sender=a@x.test -- r@x.test
if grep -q "password of ${#SECRET} bytes" "$D/cf/authrelay.log" && ! grep -q "sha256:" "$D/cf/authrelay.log"; then
  ok "-v logs the password's length only"
else
  bad "-v password line: $(grep -o 'user [^,]*, password [^,]*' "$D/cf/authrelay.log" | head -1)"
fi
head -c 1000 "$D/cf/good.db" > "$D/cf/map.db"
run "truncated .db defers" 75 "4.3.0 " "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
head -c 16384 /dev/urandom > "$D/cf/map.db"
run "corrupt .db defers" 75 "4.3.0 " "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
postmap -c "$D/cf" "lmdb:$D/cf/map" 2>/dev/null; cp "$D/cf/map.lmdb" "$D/cf/map.db"
run "LMDB file where a hash .db belongs defers" 75 "4.3.0 " "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
cp -p "$D/cf/good.db" "$D/cf/map.db"; chmod 600 "$D/cf/map.db"; chown root:root "$D/cf/map.db"
run "map unreadable by the pipe user defers" 75 "4.3.0 " "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
grep -q "chmod 640" "$D/cf/authrelay.log" && ok "unreadable map: the log says how to fix it" || bad "unreadable map: no fix in the log"
chmod 660 "$D/cf/map.db"
run "group-writable map refused" 75 "4.3.0 " "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
printf '[127.0.0.1]:%s\n' "$PORT" > "$D/cf/empty"; chmod 644 "$D/cf/empty"
sasl_cf "texthash:$D/cf/empty"
run "found empty value defers" 75 "4.3.5 " "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
sasl_cf "mysql:$D/cf/mysql.cf"
run "unsupported map type defers naming it" 75 "4.3.5 mail system configuration error: unsupported lookup table type mysql" "$D/small.eml" "$NH" --sender=a@x.test -- r@x.test
base_cf

# --- messages ---------------------------------------------------------------------------
printf 'Subject: nul\n\nbefore\0after\n' > "$D/nul.eml"
run "NUL bytes in the message" 0 "250" "$D/nul.eml" "$NH" --sender=a@x.test -- r@x.test
printf 'Subject: cr\r\n\r\nbare\rcr and\r\nmixed\nends\r' > "$D/cr.eml"
run "bare CR and mixed line ends" 0 "250" "$D/cr.eml" "$NH" --sender=a@x.test -- r@x.test
head -c 1048576 /dev/zero | tr '\0' x > "$D/long.eml"
run "a 1 MB line" 0 "250" "$D/long.eml" "$NH" --sender=a@x.test -- r@x.test
printf 'no headers at all, just text\n' > "$D/nohdr.eml"
run "no headers" 0 "250" "$D/nohdr.eml" "$NH" --sender=a@x.test -- r@x.test
: > "$D/empty.eml"
run "empty message" 0 "250" "$D/empty.eml" "$NH" --sender=a@x.test -- r@x.test
# 200 MB, streamed: peak RSS stays small.
yes 'a line of a large message, streamed and never held whole in memory' | head -c 209715200 > "$D/big.eml"
mkdir -p "$D/w"; chown "$RUNAS" "$D/w"
setpriv --reuid="$RUNAS" --regid=nogroup --clear-groups env -i MAIL_CONFIG="$D/cf" \
  /usr/bin/time -f '%M' -o "$D/w/rss" "$D/authrelay" "$NH" --sender=a@x.test --size=209715200 -- r@x.test < "$D/big.eml" > "$D/out" 2>&1
rc=$?
rss=$(tail -1 "$D/w/rss")
if [ "$rc" = 0 ] && [ "$rss" -lt 30000 ]; then ok "200 MB message delivered with peak RSS ${rss} KiB"
else bad "200 MB message: exit $rc, peak RSS ${rss} KiB"; fi
rm -f "$D/big.eml"

# --- process ------------------------------------------------------------------------------
out=$(MAIL_CONFIG="$D/cf" "$D/authrelay" "$NH" --sender=a@x.test -- r@x.test < "$D/small.eml"); rc=$?
[ "$rc" = 75 ] && [[ "$out" == "4.3.5 "* ]] && ok "refuses to deliver as root (defers)" || bad "ran as root: $rc $out"
[ "$(stat -c %a "$D/cf/authrelay.log")" = 644 ] || true
# A server that accepts and never speaks: the run ends on authrelay's own
# deadline (80% of authrelay_time_limit), not Postfix's.
STALL_PORT=$((PORT + 1))
python3 -c "
import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$STALL_PORT)); s.listen(5)
c=[]
while True: c.append(s.accept()); time.sleep(0.1)" &
STALL_PID=$!
sleep 0.5
base_cf; printf 'authrelay_time_limit = 5s\nsmtp_helo_timeout = 300s\n' >> "$D/cf/main.cf"
start=$(date +%s.%N)
setpriv --reuid="$RUNAS" --regid=nogroup --clear-groups env -i MAIL_CONFIG="$D/cf" \
  "$D/authrelay" "--nexthop=[127.0.0.1]:$STALL_PORT" --sender=a@x.test -- r@x.test < "$D/small.eml" > "$D/out" 2>&1 &
apid=$!
sleep 0.3  # the run ends on its 1 s deadline (5 s limit): look while it lives
limits=$(cat /proc/$apid/limits 2>/dev/null | grep -i 'core file')
environ_readable=no
setpriv --reuid="$RUNAS" --regid=nogroup --clear-groups cat /proc/$apid/environ >/dev/null 2>&1 && environ_readable=yes
wait $apid; rc=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
[[ "$limits" =~ [[:space:]]0[[:space:]]+0 ]] && ok "core dumps disabled ($(echo $limits | tr -s ' '))" || bad "core limit: $limits"
[ "$environ_readable" = no ] && ok "process not dumpable: its memory is closed even to its own user" || bad "process is dumpable"
if [ "$rc" = 75 ] && grep -q "^4.4.2 conversation with 127.0.0.1\[127.0.0.1\] timed out while receiving the initial server greeting" "$D/out" \
   && [ "$(echo "$took < 5" | bc)" = 1 ]; then ok "stalled server: deferred 4.4.2 on our own deadline after ${took}s"
else bad "stalled server: rc=$rc took=${took}s $(cat "$D/out")"; fi

t_finish
