#!/bin/bash
# The differential harness leaves nothing behind, even when it is stopped in the middle:
#  1. SIGTERM while smtp(8) is delivering, and again while authrelay is: its own teardown must
#     remove the namespace (and the mount behind it), /etc/netns/NAME, the temporary directory
#     and every process it started;
#  2. SIGKILL (no teardown possible): the next run (here: --sweep-only) must remove all of it.
# Usage (as root): leftovers_check.sh PATH/TO/authrelay
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=${TMPDIR:-/tmp}
fail=0

# What run PID left: namespace, mount, /etc/netns, temporary directory, processes using either.
left_by() {
  local pid=$1 ns=authrelay-diff-$1
  ip netns list | awk '{print $1}' | grep -qx "$ns" && echo "namespace $ns"
  grep -q "/netns/$ns " /proc/mounts && echo "mount /run/netns/$ns"
  [ -e "/etc/netns/$ns" ] && echo "/etc/netns/$ns"
  for d in "$tmp"/authrelay-diff."$pid".*; do
    [ -e "$d" ] || continue
    echo "directory $d"
    grep -lsaF -f <(printf "%s\n" "$d") /proc/[0-9]*/cmdline /proc/[0-9]*/environ | sed 's|/proc/\([0-9]*\)/.*|process \1 using the directory|' | sort -u
  done
  return 0
}

# Starts a run of 12 configurations and waits until smtp(8) is at work (the Postfix instance's
# maillog exists: the namespace, dnsmasq, the server and Postfix all exist), or authrelay is
# (its log exists).
start_run() {
  python3 "$here/differential.py" "$bin" 12 --seed leftovers >"$tmp/leftovers-check.$$.out" 2>&1 &
  run=$!
  for _ in $(seq 1 300); do
    compgen -G "$tmp/authrelay-diff.$run.*/$1" >/dev/null && return 0
    kill -0 "$run" 2>/dev/null || break
    sleep 0.1
  done
  echo "leftovers_check: the run did not get as far as smtp(8): $(tail -3 "$tmp/leftovers-check.$$.out")"
  return 1
}

for step in TERM:postfix0/maillog TERM:log/authrelay.log KILL:postfix0/maillog; do
  how=${step%%:*}
  start_run "${step#*:}" || { fail=1; continue; }
  before=$(left_by "$run")
  kill -"$how" "$run"
  wait "$run" 2>/dev/null
  [ "$how" = KILL ] && python3 "$here/differential.py" "$bin" --sweep-only 2>/dev/null
  sleep 0.5
  after=$(left_by "$run")
  if [ -z "$before" ]; then
    echo "leftovers_check: SIGTERM/SIGKILL test saw nothing to clean up (the run had not started?)"; fail=1
  elif [ -n "$after" ]; then
    echo "leftovers_check: after SIG$how$([ "$how" = KILL ] && echo ' and --sweep-only'), left behind:"
    echo "$after"; fail=1
  else
    who="smtp(8)'s"; [ "${step#*:}" = log/authrelay.log ] && who="authrelay's"
    echo "leftovers_check: SIG$how during $who deliveries: nothing left ($(echo "$before" | wc -l) things were there)"
  fi
done
rm -f "$tmp/leftovers-check.$$.out"
exit $fail
