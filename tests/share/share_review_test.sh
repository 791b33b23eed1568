#!/bin/bash
# The two programs under attack (an outside review): authrelay-reuse, what
# master.cf runs with connection sharing on, hands a delivery to authrelay
# by exec; what must hold across that exec. authrelay runs as the pipe user (nobody) in a
# network namespace where mx.test is 127.0.0.1.
#
#   tests/share/share_review_test.sh BUILD/authrelay-reuse     (as root)
#
# Cases: a held session whose server has wedged (its holder answers, the
# RSET never does) and a server that then never greets a new connection:
# the whole run, authrelay-reuse and authrelay together, ends within
# authrelay_time_limit (Postfix bounces a command that overruns it);
# authrelay missing, or a link back to authrelay-reuse: a prompt
# 4.3.5 deferral (no exec loop until the time limit) whose status line names
# no local path.
set -euo pipefail
BIN=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
T_PREFIX="share-review: " T_FD=2
. "$HERE/../lib/harness.sh"
. "$HERE/../lib/share.sh"
share_setup share-review
start_server review

A=$T/nobody
config nobody "$A"
write_map "$A" sasl_passwd
holder_pid() { grep 'holding the session' "$A/log" | tail -1 | sed -E 's/.*authrelay\[([0-9]+)\].*/\1/'; }

# ---- the deadline holds across the exec -------------------------------------
deliver nobody "$A"
check "first delivery sent (rc=$RC)" '[ "$RC" = 0 ]'
sleep 0.3
HP=$(holder_pid)
name=$(ls "$A/share" | grep -v '^key$' | head -1)
KEY=${name%.*}
kill -9 "$HP" 2>/dev/null || true
rm -f "$A/share/$KEY".*
# The server wedges: its held session's holder takes the delivery and the
# RSET is never answered; a new connection is accepted and never greeted.
for p in $(ip netns pids "$NS"); do kill -9 "$p" 2>/dev/null || true; done
SERVER_PID=
sleep 0.3
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
wedged=$!
ns python3 - "$PORT" "$T/tarpit" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
open(sys.argv[2], "w").close()
held = []
while True:
    c, _ = s.accept()
    held.append(c)
PY
tarpit=$!
for _ in $(seq 100); do [ -e "$A/wedged" ] && [ -e "$T/tarpit" ] && break; sleep 0.05; done
# authrelay_time_limit 12s: our own deadline is 7s, and the whole run must
# end before Postfix's 12s.
deliver nobody "$A" -o authrelay_time_limit=12s
last=$(grep 'status=' "$A/log" | tail -1)
check "wedged holder then a silent server: the run ends within authrelay_time_limit 12s (${SECS}s)" \
  'awk -v s="$SECS" "BEGIN { exit !(s < 11) }"'
check "... and defers (rc=$RC, $OUT)" '[ "$RC" = 75 ]'
kill "$wedged" "$tarpit" 2>/dev/null || true
wait "$wedged" "$tarpit" 2>/dev/null || true
rm -f "$A/share/$KEY".* "$A/wedged"

# ---- authrelay missing, or authrelay-reuse again ----------------------------
start_server review2
write_map "$A" sasl_passwd
# -v on both sides of the exec: authrelay-reuse's lines (held, then dropped
# or released) and authrelay's show no secret.
deliver nobody "$A" -v
deliver nobody "$A" -v
check "-v: the second delivery reused the session (rc=$RC)" '[ "$RC" = 0 ] && grep -q "conn_use=2, " "$A/log"'
check "-v: no secret in the log" '! grep -qF "$PASSWORD" "$A/log"'
# No holder left: the next deliveries must go through authrelay.
for p in $(ip netns pids "$NS"); do [ "$p" = "$SERVER_PID" ] || kill -9 "$p" 2>/dev/null || true; done
rm -f "$A"/share/*.[0-9]*
mkdir -m 755 "$T/bin"
cp "$BIN" "$T/bin/authrelay-reuse"
REAL_BIN=$BIN
BIN=$T/bin/authrelay-reuse
deliver nobody "$A"
check "authrelay missing: deferred 4.3.5 (rc=$RC, $OUT)" '[ "$RC" = 75 ] && [[ "$OUT" == 4.3.5* ]]'
check "... and its status line names no local path ($OUT)" '! grep -q "$T" <<<"$OUT"'
check "... the log says what to do" 'grep -q "installed beside authrelay-reuse; reinstall" "$A/log"'
ln -s authrelay-reuse "$T/bin/authrelay"
SECS=0
set +e
OUT=$(printf 'Subject: loop\n\nloop\n' |
  ns timeout 20 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    env -i PATH=/usr/bin:/bin MAIL_CONFIG="$A" "$BIN" --nexthop="[mx.test]:$PORT" --sender=s@example.org \
    -o authrelay_time_limit=100s -- r-loop@example.com)
RC=$?
set -e
check "authrelay a link to authrelay-reuse: deferred 4.3.5 at once, no exec loop (rc=$RC, $OUT)" \
  '[ "$RC" = 75 ] && [[ "$OUT" == 4.3.5* ]]'
set +e
OUT=$(ns timeout 20 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    env -i PATH=/usr/bin:/bin MAIL_CONFIG="$A" "$BIN" --check 2>&1)
RC=$?
set -e
check "... --check too (rc=$RC)" '[ "$RC" != 124 ]'
BIN=$REAL_BIN
check "no secret in the log" '! grep -qF "$PASSWORD" "$A/log"'

# ---- without /proc: never an authrelay from the working directory ----------
# authrelay-reuse finds authrelay beside its real path (/proc/self/exe);
# without /proc, beside the absolute path it was run by, and run by a
# relative one it defers rather than take "authrelay" from wherever it is.
mkdir -m 755 "$T/bin2" "$T/cwd"
cp "$BIN" "$T/bin2/authrelay-reuse"
cp "$(dirname "$BIN")/authrelay" "$T/bin2/authrelay"
printf '#!/bin/sh\necho "2.0.0 the wrong program ran"\n' > "$T/cwd/authrelay"
chmod 755 "$T/cwd/authrelay"
no_proc() { (cd "$T/cwd" && unshare --mount --fork sh -c 'mount -t tmpfs none /proc && exec "$@"' sh "$@"); }
OUT=$(no_proc ../bin2/authrelay-reuse --version 2>&1 || true)
check "no /proc, run by a relative path: 4.3.5, nothing run from the working directory ($OUT)" \
  '[[ "$OUT" == "4.3.5 mail system configuration error: cannot find authrelay"* ]]'
OUT=$(no_proc "$T/bin2/authrelay-reuse" --version 2>&1 || true)
check "no /proc, run by its absolute path: authrelay beside it runs (${OUT%%$'\n'*})" \
  '[[ "$OUT" == authrelay* ]] && ! grep -q "wrong program" <<<"$OUT"'

t_finish
