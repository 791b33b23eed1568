#!/bin/bash
# Next-hop resolution and failover: a next hop without brackets
# is looked up in DNS (a dnsmasq on the namespace's loopback): two MX
# records, the preferred one dead, delivers through the other; a name with
# no MX falls back to its address; a list "[a]:port,[b]:port" is tried in
# order. Usage: failover_test.sh PATH/TO/authrelay
set -euo pipefail
E2E_BIN=$(readlink -f "$1")
source "$(dirname "$0")/lib.sh"
DNS_PID=
# dnsmasq must not outlive the suite: stop it by its own pid (started
# without the ns() shell function, so $! is dnsmasq itself, not a subshell),
# then anything else still running in the namespace, and wait for them.
stop_dns() {
  set +e
  local pids
  [ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null
  if [ -n "${E2E_NS:-}" ]; then
    pids=$(ip netns pids "$E2E_NS" 2>/dev/null | while read -r p; do
      [ "$(cat /proc/"$p"/comm 2>/dev/null)" = dnsmasq ] && echo "$p"; done)
    [ -n "$pids" ] && kill $pids 2>/dev/null
  fi
  [ -n "$DNS_PID" ] && wait "$DNS_PID" 2>/dev/null
  return 0
}
trap 'stop_dns; e2e_teardown' EXIT
e2e_setup
R=$E2E_DIR/relay
ip netns exec "$E2E_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=53 --listen-address=127.0.0.1 --bind-interfaces \
  --user=root --pid-file="$E2E_DIR/dnsmasq.pid" --log-facility="$E2E_DIR/dnsmasq.log" \
  --mx-host=example.test,mx1.example.test,10 --mx-host=example.test,mx2.example.test,20 \
  --host-record=mx1.example.test,127.0.0.2 --host-record=mx2.example.test,127.0.0.1 \
  --host-record=nomx.test,127.0.0.1 --mx-host=tlsmx.test,smarthost.test,10 \
  --host-record=smarthost.test,127.0.0.1 --local=/test/ &
DNS_PID=$!
sleep 1
cat >> "$R/transport" <<T
mx.test      authrelay:example.test
nomx.test    authrelay:nomx.test
list.test    authrelay:[smarthost.test]:2600,[smarthost.test]:25
tlsmx.test   authrelay:tlsmx.test:587
T
# A policy-map entry for a domain reached through MX: verify checks the MX
# host's name (smarthost.test, which the certificate carries), not the
# domain's (tlsmx.test, which it does not).
echo "tlsmx.test:587 verify" > "$R/tls_policy"
echo "tlsmx.test:587 alice@smarthost.test:$E2E_PASSWORD" >> "$R/sasl_passwd"
postmap -c "$R" "hash:$R/sasl_passwd"
e2e_relay_conf "relayhost = [smarthost.test]:587" "smtp_sasl_auth_enable = yes" \
  "smtp_sasl_password_maps = hash:$R/sasl_passwd" "smtp_tls_policy_maps = texthash:$R/tls_policy" \
  "smtp_tls_CAfile = $R/ca-bundle.crt"
msg() { printf 'From: f@example.org\nSubject: %s\nMessage-ID: <%s@e2e.test>\n\n%s\n' "$1" "$1" "$1" > "$E2E_DIR/$1.eml"; echo "$E2E_DIR/$1.eml"; }
A=$R/log/authrelay.log

e2e_send f@example.org a@mx.test "$(msg mx-1)"
if e2e_wait_maildir "mx-1@e2e.test" >/dev/null; then
  q=$(grep -m1 "to=<a@mx.test>.*status=sent" "$A" | awk '{print $5}')
  if grep "$q" "$A" | grep -q "connect to mx1.example.test\[127.0.0.2\]:25: Connection refused" \
     && grep "$q" "$A" | grep -q "relay=mx2.example.test\[127.0.0.1\]:25, .*status=sent"; then
    ok "two MX records, the preferred one dead: delivered through the other"
  else bad "MX order not as expected: $(grep "$q" "$A")"; fi
else bad "MX failover: not delivered: $(tail -3 "$A")"; fi

e2e_send f@example.org a@nomx.test "$(msg nomx-1)"
if e2e_wait_maildir "nomx-1@e2e.test" >/dev/null && grep -q "to=<a@nomx.test>, relay=nomx.test\[127.0.0.1\]:25, .*status=sent" "$A"; then
  ok "no MX record: the name's own address is used"
else bad "no-MX fallback: $(grep nomx "$A" | tail -3)"; fi

e2e_send f@example.org a@list.test "$(msg list-1)"
if e2e_wait_maildir "list-1@e2e.test" >/dev/null; then
  q=$(grep -m1 "to=<a@list.test>.*status=sent" "$A" | awk '{print $5}')
  first=$(grep "$q" "$A" | grep -n "connect to smarthost.test\[127.0.0.1\]:2600: Connection refused" | cut -d: -f1 | head -1)
  second=$(grep "$q" "$A" | grep -n "relay=smarthost.test\[127.0.0.1\]:25, .*status=sent" | cut -d: -f1 | head -1)
  [ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ] && ok "a next-hop list is tried in order" \
    || bad "list order: $(grep "$q" "$A")"
else bad "list: not delivered"; fi

e2e_send f@example.org a@tlsmx.test "$(msg tlsmx-1)"
if e2e_wait_maildir "tlsmx-1@e2e.test" >/dev/null; then
  q=$(grep -m1 "to=<a@tlsmx.test>.*status=sent" "$A" | awk '{print $5}')
  grep "$q" "$A" | grep -q "Verified TLS connection established to smarthost.test\[127.0.0.1\]:587" \
    && ok "policy entry at verify for an MX domain: the MX host's name is what the certificate is checked against" \
    || bad "MX + policy: $(grep "$q" "$A")"
  grep "$q" "$A" >&2
else bad "MX + policy entry: not delivered: $(grep tlsmx "$A" | tail -3)"; fi
# What SNI carries and what keys the session cache, per MX host (-v).
p=$(ns setpriv --reuid="$E2E_USER" --regid="$E2E_USER" --clear-groups "$E2E_BIN" -c "$R" -v --probe tlsmx.test:587 2>&1 || true)
line=$(grep -m1 "TLS level verify for tlsmx.test:587" <<<"$p" || true)
log "$line"
[[ "$line" == *"server smarthost.test: match smarthost.test, SNI smarthost.test, session cache peer tlsmx.test:587|smarthost.test:587"* ]] \
  && ok "per MX host: match, SNI and session-cache peer are the MX host" || bad "probe: $p"
c=$(ns setpriv --reuid="$E2E_USER" --regid="$E2E_USER" --clear-groups "$E2E_BIN" -c "$R" --check --nexthop=tlsmx.test:587 2>&1 || true)
log "$(grep -m1 '^next hop' <<<"$c")"
grep -q "^next hop tlsmx.test:587 (MX host smarthost.test): TLS verify (smtp_tls_policy_maps)" <<<"$c" \
  && ok "--check resolves the policy for the MX host" || bad "--check MX: $c"

# The DNS server is this suite's: it must be gone when the suite is.
stop_dns
if pgrep -f -- "--pid-file=$E2E_DIR/dnsmasq.pid" >/dev/null; then bad "dnsmasq still running after stop_dns"
else ok "dnsmasq stopped with the suite"; fi

e2e_finish
