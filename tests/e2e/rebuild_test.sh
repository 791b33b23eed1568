#!/bin/bash
# A 10,000-entry credentials map rebuilt by postmap in a loop while 200
# deliveries run: every delivery must authenticate. postmap
# rewrites the .db in place under an exclusive flock(); authrelay reads it
# under the shared lock, so it sees the old or the new table, never half.
# Usage: rebuild_test.sh PATH/TO/authrelay [COUNT]
set -euo pipefail
E2E_BIN=$(readlink -f "$1")
COUNT=${2:-200}
source "$(dirname "$0")/lib.sh"
LOOP_PID=
trap '[ -n "$LOOP_PID" ] && kill $LOOP_PID 2>/dev/null; e2e_teardown' EXIT
e2e_setup
R=$E2E_DIR/relay
S=$E2E_DIR/smarthost
for i in $(seq 1 10000); do echo "[filler-$i.example.com]:587 user$i@example.com:pw-$i"; done >> "$R/sasl_passwd"
postmap -c "$R" "hash:$R/sasl_passwd"
postconf -c "$R" -M "127.0.0.1:10025/inet = 127.0.0.1:10025 inet n - n - - smtpd"
e2e_relay_conf "relayhost = [smarthost.test]:587" "smtp_sasl_auth_enable = yes" \
  "smtp_sasl_password_maps = hash:$R/sasl_passwd" "mynetworks = 127.0.0.0/8" "default_destination_concurrency_limit = 20"
rebuilds=$E2E_DIR/rebuilds
# The count is replaced by rename, never truncated and rewritten: the kill
# below may land anywhere in the loop, and must not leave an empty count.
echo 0 > "$rebuilds"
( n=0; while :; do postmap -c "$R" "hash:$R/sasl_passwd"; n=$((n + 1)); echo $n > "$rebuilds.new"; mv -f "$rebuilds.new" "$rebuilds"; done ) &
LOOP_PID=$!
ns smtp-source -s 10 -m "$COUNT" -l 1024 -f rb@example.org -t sink@example.com 127.0.0.1:10025
for ((i = 0; i < 600; i++)); do
  [ "$(find "$S/maildir/new" -type f | wc -l)" -ge "$COUNT" ] && break
  sleep 0.5
done
kill $LOOP_PID; LOOP_PID=
delivered=$(find "$S/maildir/new" -type f | wc -l)
authed=$(grep -c "smarthost/submission/smtpd.*sasl_username=alice@smarthost.test" "$S/maillog" || true)
deferred=$(grep -c "status=deferred" "$R/maillog" || true)
log "$delivered delivered, $authed authenticated sessions, $deferred deferrals, $(cat "$rebuilds") postmap rebuilds meanwhile"
check "every message delivered ($delivered of $COUNT)" '[ "$delivered" -ge "$COUNT" ]'
check "every delivery authenticated ($authed)" '[ "$authed" -ge "$COUNT" ]'
check "no delivery deferred by a half-written map ($deferred deferrals)" '[ "$deferred" = 0 ]'
check "the map was rebuilt while deliveries ran ($(cat "$rebuilds") times)" '[ "$(cat "$rebuilds")" -ge 5 ]'
e2e_finish
