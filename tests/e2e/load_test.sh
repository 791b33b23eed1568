#!/bin/bash
# Load and outage: 1,000 messages injected into the relay Postfix over SMTP
# at 20 concurrent sessions (Postfix's smtp-source), relayed by authrelay
# over STARTTLS + AUTH to the smarthost, which is stopped for 30 s in the
# middle. After it returns the relay queue is flushed. Every message must
# arrive exactly once (counted by Message-ID in the smarthost's Maildir).
# Usage: load_test.sh PATH/TO/authrelay [COUNT] [OUTAGE_SECONDS]
set -euo pipefail
E2E_BIN=$(readlink -f "$1")
COUNT=${2:-1000}
OUTAGE=${3:-30}
source "$(dirname "$0")/lib.sh"
trap e2e_teardown EXIT
e2e_setup
R=$E2E_DIR/relay
S=$E2E_DIR/smarthost
postconf -c "$R" -M "127.0.0.1:10025/inet = 127.0.0.1:10025 inet n - n - - smtpd"
e2e_relay_conf "relayhost = [smarthost.test]:587" "smtp_sasl_auth_enable = yes" \
  "smtp_sasl_password_maps = hash:$R/sasl_passwd" "smtp_sasl_security_options = noanonymous" \
  "mynetworks = 127.0.0.0/8" "always_add_missing_headers = yes" "default_destination_concurrency_limit = 20"

# AUTHRELAY_LOAD_SHARE=1: the same run with connection sharing on.
if [ "${AUTHRELAY_LOAD_SHARE:-0}" = 1 ]; then
  mkdir -p "$R/share" && chown "$E2E_USER" "$R/share" && chmod 700 "$R/share"
  e2e_relay_conf "authrelay_connection_reuse = yes" "authrelay_connection_reuse_directory = $R/share"
fi
delivered() { find "$S/maildir/new" -type f | wc -l; }
start=$(date +%s)
log "injecting $COUNT messages at 20 concurrent sessions"
ns smtp-source -s 20 -m "$COUNT" -l 2048 -f load@example.org -t sink@example.com 127.0.0.1:10025 &
src=$!
# Stop the smarthost once about a third has arrived.
for ((i = 0; i < 600; i++)); do
  [ "$(delivered)" -ge $((COUNT / 3)) ] && break
  kill -0 $src 2>/dev/null || [ "$(delivered)" -gt 0 ] || die "smtp-source ended before anything was delivered"
  sleep 0.05
done
# Without sharing, an orderly stop, as for maintenance: first make the smarthost defer
# every new transaction (450 at RCPT, so no new session reaches DATA) and
# let sessions in flight finish under the old configuration, then stop
# Postfix. Killing smtpd between its queueing a message and its 250 reply
# would make any SMTP client send that message again (RFC 1047's window,
# which authrelay logs as "message may be sent more than once").
if [ "${AUTHRELAY_LOAD_SHARE:-0}" = 1 ]; then
  # With sharing, held sessions keep their smtpd, which `postfix stop` leaves
  # running until its client leaves (never, for a held session), and a
  # delivery over a held session takes a few milliseconds: any orderly stop
  # comes after the whole slice has gone. So the smarthost dies abruptly
  # here: its master and its own smtpd processes (found by their working
  # directory, its queue) get SIGKILL; the relay's smtpd, which is receiving
  # the injection, is left alone. This is also what sharing must survive:
  # sessions cut mid-transaction (a duplicate is allowed only when logged
  # "may be sent more than once").
  log "$(delivered) delivered; killing the smarthost for ${OUTAGE}s"
  squeue=$(readlink -f "$(postconf -c "$S" -h queue_directory)")
  kill -KILL "$(sed 1q "$squeue/pid/master.pid" | tr -d ' ')" 2>/dev/null || true
  for p in $(pgrep -x smtpd); do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$squeue" ] && kill -KILL "$p" 2>/dev/null || true
  done
else
  log "$(delivered) delivered; stopping the smarthost for ${OUTAGE}s"
  postconf -c "$S" -e "smtpd_client_restrictions = defer"
  ns postfix -c "$S" reload >/dev/null 2>&1
  sleep 3
  ns postfix -c "$S" stop >/dev/null 2>&1
  postconf -c "$S" -e "smtpd_client_restrictions ="
fi
sleep "$OUTAGE"
deferred=$(grep -c 'status=deferred' "$R/maillog" || true)
log "starting the smarthost again ($deferred deferrals logged meanwhile); flushing the relay queue"
ns postfix -c "$S" start >/dev/null 2>&1
wait $src || log "smtp-source exited non-zero"
sleep 1
ns postqueue -c "$R" -f
for ((i = 0; i < 1200; i++)); do
  if [ "$(delivered)" -ge "$COUNT" ] && [ -z "$(ns postqueue -c "$R" -j)" ]; then break; fi
  sleep 0.5
done
sleep 2  # let any straggler (a duplicate) land before counting
took=$(( $(date +%s) - start ))
ids=$(cat "$S"/maildir/new/* | grep -i '^Message-ID:' | sort)
total=$(echo "$ids" | grep -c . || true)
unique=$(echo "$ids" | uniq | grep -c . || true)
dups=$((total - unique))
# Sent more than once is allowed only where authrelay said it may be (the
# connection was lost after the final dot).
maybe=$(cat "$R"/log/authrelay.log 2>/dev/null | grep -c "status=deferred (.*message may be sent more than once" || true)
reused=$(cat "$R"/log/authrelay.log 2>/dev/null | grep -c "conn_use=" || true)
lost=$((COUNT - unique))
queued=$(ns postqueue -c "$R" -j | grep -c . || true)
bounced=$(grep -c 'status=bounced' "$R/maillog" || true)
log "in ${took}s: $unique unique messages, $dups duplicates, $lost lost, $queued still queued, $bounced bounced, $deferred deferred during the outage, $reused deliveries over a shared session, $maybe 'may be sent more than once'"
check "every message arrived ($unique of $COUNT)" '[ "$lost" = 0 ]'
if [ "${AUTHRELAY_LOAD_SHARE:-0}" = 1 ]; then
  check "no message arrived twice beyond those logged 'may be sent more than once' ($dups duplicates, $maybe logged)" '[ "$dups" -le "$maybe" ]'
  check "deliveries went over shared sessions ($reused)" '[ "$reused" -gt 0 ]'
else
  check "no message arrived twice ($dups duplicates)" '[ "$dups" = 0 ]'
fi
check "the outage was seen and deferred, not bounced ($deferred deferrals, $bounced bounces)" '[ "$deferred" -gt 0 ] && [ "$bounced" = 0 ]'
check "relay queue empty" '[ "$queued" = 0 ]'
e2e_finish
