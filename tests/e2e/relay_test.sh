#!/bin/bash
# End-to-end: real Postfix -> pipe(8) -> authrelay -> real Postfix smarthost
# with TLS and Cyrus SASL.
# Usage: relay_test.sh PATH/TO/authrelay
set -euo pipefail
E2E_BIN=$(readlink -f "$1")
source "$(dirname "$0")/lib.sh"
trap e2e_teardown EXIT
e2e_setup
R=$E2E_DIR/relay
S=$E2E_DIR/smarthost

msg() {  # msg ID SUBJECT: a small message file
  printf 'From: tester@example.org\nTo: someone@example.com\nSubject: %s\nMessage-ID: <%s@e2e.test>\n\nhello %s\n' \
    "$2" "$1" "$1" > "$E2E_DIR/$1.eml"
  echo "$E2E_DIR/$1.eml"
}

# --- Seed case 3: the recipe's Gmail lines verbatim (CA bundle swapped) ----
e2e_relay_conf \
  "relayhost = [smtp.gmail.com]:587" "smtp_use_tls = yes" "smtp_sasl_auth_enable = yes" \
  "smtp_sasl_password_maps = hash:$R/sasl_passwd" "smtp_sasl_tls_security_options = noanonymous" \
  "smtp_sasl_mechanism_filter = plain" "smtp_tls_CApath = $R/ca-bundle.crt"

# Body fidelity: leading dots, a lone dot, a 2000-octet line, UTF-8, no final newline.
long=$(head -c 2000 /dev/zero | tr '\0' 'x')
printf 'From: tester@example.org\nTo: body@example.com\nSubject: body test\nMessage-ID: <body-1@e2e.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n.leading dot\n.\n..two dots\n%s\nUTF-8: こんにちは, Grüße\nlast line without newline' "$long" > "$E2E_DIR/body.eml"
e2e_send tester@example.org body@example.com "$E2E_DIR/body.eml"
if f=$(e2e_wait_maildir "body-1@e2e.test"); then
  # Expected body: smtp(8)'s folding of the 2000-octet line at
  # smtp_line_length_limit = 998 (CRLF SPACE), LF in the Maildir.
  python3 - "$f" "$long" <<'PY' && ok "body intact (dots, 8-bit, long line folded as smtp(8), final newline)" || bad "body differs"
import sys
path, long = sys.argv[1], sys.argv[2]
body = open(path, 'rb').read().split(b'\n\n', 1)[1]
folded = long[:998] + '\n ' + long[998:1995] + '\n ' + long[1995:]
want = ('.leading dot\n.\n..two dots\n' + folded + '\nUTF-8: こんにちは, Grüße\nlast line without newline\n').encode()
if body != want:
    print('got:', body[:300], '...', len(body), 'want', len(want), file=sys.stderr)
    sys.exit(1)
PY
  grep -q "Verified TLS connection established to smtp.gmail.com\[127.0.0.1\]:587" "$R/log/authrelay.log" \
    && ok "Gmail seed: verified TLS" || bad "Gmail seed: no verified TLS line"
  grep -q "authenticated to smtp.gmail.com\[127.0.0.1\]:587 as relayuser@gmail.com with mechanism PLAIN" "$R/log/authrelay.log" \
    && ok "Gmail seed: AUTH PLAIN as relayuser@gmail.com" || bad "Gmail seed: no AUTH line"
  grep -q "CApath $R/ca-bundle.crt is a file" "$R/log/authrelay.log" && ok "CApath naming a file is accepted and logged" \
    || bad "CApath note missing"
else
  bad "body message not delivered"
fi

# The same long line with smtp_line_length_limit = 0 arrives byte for byte.
e2e_relay_conf "smtp_line_length_limit = 0"
printf 'From: tester@example.org\nSubject: long\nMessage-ID: <long-1@e2e.test>\n\n%s\n' "$long" > "$E2E_DIR/long.eml"
e2e_send tester@example.org long@example.com "$E2E_DIR/long.eml"
if f=$(e2e_wait_maildir "long-1@e2e.test") && grep -qx -- "$long" "$f"; then ok "2000-octet line unbroken with smtp_line_length_limit = 0"
else bad "long line with limit 0"; fi
postconf -c "$R" -X smtp_line_length_limit

# --- Seed case 1: plain smarthost, no AUTH ----------------------------------
e2e_relay_conf "relayhost = [plain.test]:25" "smtp_sasl_auth_enable = no" "smtp_use_tls = no" \
  "smtp_sasl_mechanism_filter =" "smtp_tls_CApath =" "smtp_sasl_tls_security_options ="
e2e_send tester@example.org p1@example.com "$(msg plain-1 plain)"
if e2e_wait_maildir "plain-1@e2e.test" >/dev/null; then ok "seed 1: plain relay delivered"
else bad "seed 1: plain relay not delivered"; fi

# --- Seed case 2: SMTP AUTH relay, per-host credentials -----------------------
# The recipe's lines; no TLS level set and credentials exist, so authrelay
# insists on verified TLS, trusting the system store (the namespace's).
e2e_relay_conf "relayhost = [smarthost.test]:587" "smtp_sasl_auth_enable = yes" \
  "smtp_sasl_password_maps = hash:$R/relay_password" "smtp_sasl_security_options = noanonymous"
e2e_send tester@example.org p2@example.com "$(msg auth-1 auth)"
if f=$(e2e_wait_maildir "auth-1@e2e.test"); then
  ok "seed 2: AUTH relay delivered"
  grep -q "Verified TLS connection established to smarthost.test\[127.0.0.1\]:587" "$R/log/authrelay.log" \
    && ok "seed 2: verified TLS against the system trust store" || bad "seed 2: TLS not verified"
  grep -q "sasl_username=alice@smarthost.test" "$S/maillog" && ok "seed 2: smarthost saw AUTH as alice" \
    || bad "seed 2: smarthost saw no AUTH"
else
  bad "seed 2: AUTH relay not delivered"
fi

# --- Implicit TLS (465) -----------------------------------------------------
e2e_send tester@example.org i1@implicit.test "$(msg implicit-1 implicit)"
if e2e_wait_maildir "implicit-1@e2e.test" >/dev/null; then ok "implicit TLS on 465 delivered"
else bad "implicit TLS not delivered"; fi
grep -q "smarthost/smtps.*sasl_username=alice@smarthost.test" "$S/maillog" && ok "465: AUTH over implicit TLS" \
  || bad "465: no AUTH seen by smarthost"

# --- Failures: each defers (and stays queued) or bounces as it must ----------
queued() {  # is a message for recipient $1 still in the relay queue?
  ns postqueue -c "$R" -j | grep -q "\"address\": *\"$1\""
}
e2e_send tester@example.org w1@wrongpw.test "$(msg wrongpw-1 wrongpw)"
if line=$(e2e_wait_log "to=<w1@wrongpw.test>.*status=deferred"); then
  echo "$line" | grep -q "dsn=4.7.8" && echo "$line" | grep -q "SASL authentication failed; server wrongpw.test\[127.0.0.1\] said: 535" \
    && ok "wrong password: deferred 4.7.8" || bad "wrong password: unexpected line: $line"
  queued w1@wrongpw.test && ok "wrong password: still in the relay queue" || bad "wrong password: not queued"
else bad "wrong password: no deferral logged"; fi

e2e_send tester@example.org d1@down.test "$(msg down-1 down)"
if line=$(e2e_wait_log "to=<d1@down.test>.*status=deferred"); then
  echo "$line" | grep -q "dsn=4.4.1.*connect to smarthost.test\[127.0.0.1\]:2600: Connection refused" \
    && ok "smarthost down: deferred 4.4.1" || bad "smarthost down: unexpected line: $line"
else bad "smarthost down: no deferral logged"; fi

e2e_send tester@example.org reject@rcpt.test "$(msg reject-1 reject)"
if line=$(e2e_wait_log "to=<reject@rcpt.test>.*status=bounced"); then
  echo "$line" | grep -q "dsn=5.1.1.*host smarthost.test\[127.0.0.1\] said: 550 5.1.1 <reject@rcpt.test>: Recipient address rejected: no such user here (in reply to RCPT TO command)" \
    && ok "5xx recipient: bounced with the server's text" || bad "5xx recipient: unexpected line: $line"
else bad "5xx recipient: no bounce logged"; fi

# The bounce (null sender) goes back out through authrelay as MAIL FROM:<>.
if f=$(e2e_wait_maildir "reject-1@e2e.test" 30) && grep -q "^Return-Path: <>" "$f" \
   && grep -q "Recipient address rejected: no such user here" "$f"; then
  ok "bounce relayed with MAIL FROM:<> and the server's text"
  cp "$f" "$E2E_DIR/bounce.eml"
else bad "bounce with null sender not relayed"; fi

e2e_send tester@example.org m1@nomap.test "$(msg nomap-1 nomap)"
if line=$(e2e_wait_log "to=<m1@nomap.test>.*status=deferred"); then
  echo "$line" | grep -q "dsn=4.3.0.*cannot read lookup table hash:no_such_map" \
    && ok "missing map: deferred 4.3.0 naming the map" || bad "missing map: unexpected line: $line"
  queued m1@nomap.test && ok "missing map: still queued" || bad "missing map: not queued"
else bad "missing map: no deferral logged"; fi

e2e_send tester@example.org c1@wrongcert.test "$(msg wrongcert-1 wrongcert)"
if line=$(e2e_wait_log "to=<c1@wrongcert.test>.*status=deferred"); then
  echo "$line" | grep -q "dsn=4.7.5.*Server certificate not verified" \
    && ok "certificate for another name: deferred 4.7.5" || bad "wrong cert: unexpected line: $line"
  sleep 1
  if grep "smarthost/wrongcert" "$S/maillog" | grep -qiE "sasl|AUTH"; then bad "wrong cert: AUTH reached the server"
  elif grep "smarthost/wrongcert" "$S/maillog" | grep -q "STARTTLS"; then ok "wrong cert: no AUTH sent (connection dropped after STARTTLS)"
  else bad "wrong cert: smarthost log shows no TLS session"; fi
else bad "wrong cert: no deferral logged"; fi

# --- No secret anywhere -------------------------------------------------------
ns postqueue -c "$R" -p > "$E2E_DIR/postqueue.txt" 2>&1 || true
leaks=0
for secret in "$E2E_PASSWORD" "$E2E_GMAIL_PASSWORD" "$E2E_WRONG_PASSWORD" \
              "$(printf '\0%s\0%s' alice@smarthost.test "$E2E_PASSWORD" | base64 -w0)" \
              "$(printf '\0%s\0%s' relayuser@gmail.com "$E2E_GMAIL_PASSWORD" | base64 -w0)"; do
  hits=$({ grep -rlaF -- "$secret" "$R/maillog" "$R/log" "$S/maillog" "$S/maildir" "$E2E_DIR/postqueue.txt" 2>/dev/null || true; } | wc -l)
  leaks=$((leaks + hits))
done
# Positive control: the same grep does find the password where it belongs.
grep -qaF -- "$E2E_PASSWORD" "$R/sasl_passwd" || bad "secret grep cannot find the password even in sasl_passwd"
[ "$leaks" = 0 ] && ok "no password or AUTH payload in any log, status line, queue listing or bounce" \
  || bad "a secret leaked into $leaks file(s)"

e2e_finish
