#!/bin/bash
# Connection sharing under attack from outside: holders that accept and never
# answer, and a delivery's deadline. authrelay runs as the pipe user (nobody)
# in a network namespace where mx.test is 127.0.0.1, against
# tests/share/smtp_server.py.
#
#   tests/share/share_adversary_test.sh BUILD/authrelay     (as root)
#
# Cases: every holder slot of a key taken by a listener that accepts and
# never answers (a SIGSTOPped or wedged holder): the delivery still ends
# within its deadline, and is sent directly; a holder that answers and then
# falls silent costs smtp_rset_timeout, not the deadline; root's --check
# does not follow the directory swapped for a symlink, talks only to the
# directory owner's holders, and prints what they say as text.
set -euo pipefail
BIN=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
T_PREFIX="share-adv: " T_FD=2
. "$HERE/../lib/harness.sh"
. "$HERE/../lib/share.sh"
share_setup share-adv

start_server adv

A=$T/nobody
config nobody "$A" "authrelay_destination_concurrency_limit = 5"
write_map "$A" sasl_passwd

holder_pid() { grep 'holding the session' "$A/log" | tail -1 | sed -E 's/.*authrelay\[([0-9]+)\].*/\1/'; }

# ---- wedged holders and the deadline ---------------------------------------
# A first delivery leaves a holder: its socket name is the key's.
deliver nobody "$A"
check "first delivery sent (rc=$RC)" '[ "$RC" = 0 ]'
sleep 0.3
HP=$(holder_pid)
CHECKOUT=$(ns env -i PATH=/usr/bin:/bin MAIL_CONFIG="$A" "$BIN" --check 2>&1 || true)
check "root's --check lists a real holder of the pipe user" 'grep -q "held session to mx.test.*by pid $HP" <<<"$CHECKOUT"'
name=$(ls "$A/share" | grep -v '^key$' | head -1)
KEY=${name%.*}
kill -9 "$HP" 2>/dev/null || true
rm -f "$A/share/$KEY".*
# Every slot (5) taken by a listener of the pipe user that never accepts:
# connect() and the request succeed (the backlog takes them), no answer ever
# comes, as from a SIGSTOPped holder.
as_nobody /usr/bin/python3 - "$A/share/$KEY" 5 "$A/wedged" <<'PY' &
import socket, sys, time
socks = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("%s.%d" % (sys.argv[1], i)); s.listen(16); socks.append(s)
open(sys.argv[3], "w").close()
time.sleep(120)
PY
for _ in $(seq 100); do [ -e "$A/wedged" ] && break; sleep 0.05; done
check "5 wedged listeners in place" '[ -e "$A/wedged" ] && [ "$(ls "$A/share" | grep -c "^$KEY\\.")" = 5 ]'
# authrelay_time_limit 10s: the delivery's own deadline is 5s.
conns=$(count connect)
deliver nobody "$A" -o authrelay_time_limit=10s
last=$(grep 'status=' "$A/log" | tail -1)
check "5 wedged holders: the delivery keeps its 5s deadline (${SECS}s)" 'awk -v s="$SECS" "BEGIN { exit !(s < 5) }"'
check "5 wedged holders: sent directly (rc=$RC, $last)" \
  '[ "$RC" = 0 ] && grep -q "status=sent" <<<"$last" && [ "$(count connect)" = $((conns + 1)) ]'

# ---- a holder that answers, then never relays ------------------------------
# It takes the delivery (OK) and goes silent (stopped, or stuck writing to
# its server). smtp(8) waits smtp_rset_timeout for a reused connection's
# RSET, then connects anew: so do we, instead of spending smtp_mail_timeout
# (300s) or the whole deadline and deferring.
kill %2 2>/dev/null || true
for p in $(pgrep -u nobody -f "share/$KEY" || true); do kill -9 "$p" 2>/dev/null || true; done
rm -f "$A/share/$KEY".* "$A/wedged"
as_nobody /usr/bin/python3 - "$A/share/$KEY.0" "$A/wedged" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
open(sys.argv[2], "w").close()
held = []
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        c.recv(5)
        c.sendall(b"OK pid=1 use=2 age=0 server=mx.test pipelining=1 8bitmime=1 smtputf8=0 size=1 "
                  b"sizelimit=- protocol=TLSv1.3 cipher=X bits=256 verified=1 trusted=1\n")
    except OSError:
        pass
    held.append(c)
PY
for _ in $(seq 100); do [ -e "$A/wedged" ] && break; sleep 0.05; done
conns=$(count connect)
deliver nobody "$A" -o authrelay_time_limit=60s -o smtp_rset_timeout=2s
last=$(grep 'status=' "$A/log" | tail -1)
check "a silent holder costs smtp_rset_timeout (2s), not the deadline (${SECS}s)" \
  'awk -v s="$SECS" "BEGIN { exit !(s >= 2 && s < 10) }"'
check "a silent holder: sent directly (rc=$RC, $last)" \
  '[ "$RC" = 0 ] && grep -q "status=sent" <<<"$last" && [ "$(count connect)" = $((conns + 1)) ]'

# ---- root's --check: a directory swapped for a symlink --------------------
# The pipe user may own the directory's parent: it can put a symlink to a
# root daemon's socket directory in the directory's place. Root's --check
# must not follow it and must send nothing to a socket that is not the
# directory owner's holder.
for p in $(pgrep -u nobody -f "share/$KEY" || true); do kill -9 "$p" 2>/dev/null || true; done
mkdir -m 700 "$T/rootsocks"
python3 - "$T/rootsocks/daemon.sock" "$T/root.bytes" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
open(sys.argv[2], "w").close()
c, _ = s.accept()
c.settimeout(3)
try:
    data = c.recv(100)
except OSError:
    data = b""
open(sys.argv[2], "wb").write(data)
PY
rootsock=$!
for _ in $(seq 100); do [ -e "$T/root.bytes" ] && break; sleep 0.05; done
mv "$A/share" "$A/share.real"
ln -s "$T/rootsocks" "$A/share"
CHECKOUT=$(ns env -i PATH=/usr/bin:/bin MAIL_CONFIG="$A" "$BIN" --check 2>&1 || true)
sleep 0.5
kill "$rootsock" 2>/dev/null || true
wait "$rootsock" 2>/dev/null || true
check "root's --check sends nothing through a directory symlink to a root socket ($(od -c "$T/root.bytes" | head -1))" \
  '[ ! -s "$T/root.bytes" ]'
rm "$A/share"
mv "$A/share.real" "$A/share"
# A holder's words reach root's terminal as text only.
rm -f "$A/share/$KEY".*
as_nobody /usr/bin/python3 - "$A/share/$KEY.0" "$A/esc" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept()
    c.recv(5)
    c.sendall(b"OK pid=1 use=2 age=0 server=mx.test\x1b]0;owned\x07 pipelining=1 8bitmime=1 smtputf8=0 size=1 "
              b"sizelimit=- protocol=TLSv1.3\x1b[2J cipher=X bits=256 verified=1 trusted=1\n")
    c.close()
PY
esc=$!
for _ in $(seq 100); do [ -e "$A/esc" ] && break; sleep 0.05; done
CHECKOUT=$(ns env -i PATH=/usr/bin:/bin MAIL_CONFIG="$A" "$BIN" --check 2>&1 || true)
kill "$esc" 2>/dev/null || true
check "root's --check lists the pipe user's holder" 'grep -q "held session to mx.test" <<<"$CHECKOUT"'
check "root's --check prints no control byte a holder sent" '! grep -q $'"'"'\x1b'"'"' <<<"$CHECKOUT"'

t_finish
