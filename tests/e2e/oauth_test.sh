#!/bin/bash
# OAuth end to end: real Postfix relay -> pipe(8) -> authrelay -> a Postfix
# smarthost whose SASL is Dovecot's oauth2 passdb, which checks every token
# against a local HTTPS introspection endpoint (tests/oauth/token_endpoint.py,
# which also is the token endpoint). Shows:
#  - an expired access token is refreshed once and the mail goes through
#    with a token the server verified, over XOAUTH2 (a service whose argv
#    has -o smtp_sasl_mechanism_filter=xoauth2) and OAUTHBEARER (default);
#  - the next delivery uses the saved token, no new refresh;
#  - --oauth-enrol (device flow) run as root writes a store the pipe user
#    owns, and delivery works with it;
#  - a Google service account store (JWT bearer grant, signature verified
#    by the endpoint with the public key): the delivery, as the pipe user,
#    signs a new assertion and the smarthost accepts the token;
#  - a revoked refresh token defers (4.7.0) with the provider's words and
#    the fix in the log; the mail stays queued;
#  - a token the server refuses while it still looks valid is renewed once
#    and AUTH retried; a renewed token refused again defers (no loop);
#  - no token or client secret in any log.
#   oauth_test.sh AUTHRELAY
set -euo pipefail
E2E_BIN=$1
source "$(dirname "$0")/lib.sh"
trap e2e_teardown EXIT
passed=0 failed=0
command -v dovecot >/dev/null || die "dovecot-core is not installed (scripts/install-deps)"
e2e_setup
R=$E2E_DIR/relay S=$E2E_DIR/smarthost DV=$E2E_DIR/dovecot
mkdir -p "$DV/run" "$DV/state"

# The token and introspection endpoint, in the namespace, on 127.0.0.1:8443.
ns env TOKEN_ENDPOINT_TRUST="$E2E_DIR/trust.json" python3 "$E2E_SRC/tests/oauth/token_endpoint.py" 8443 "$E2E_DIR/certs/server.pem" "$E2E_DIR/certs/server.key" \
  "$E2E_DIR/requests" relay@example.com > "$E2E_DIR/endpoint.out" 2>&1 &
EP=$!
stop_oauth() {
  set +e
  pkill -f "token_endpoint.py 8443 $E2E_DIR/" 2>/dev/null
  ns doveadm -c "$DV/dovecot.conf" stop 2>/dev/null
  e2e_teardown
}
trap stop_oauth EXIT
trap 'exit 1' TERM INT
for _ in $(seq 50); do grep -q ready "$E2E_DIR/endpoint.out" 2>/dev/null && break; sleep 0.1; done
: > "$E2E_DIR/requests"

# Dovecot: authentication only, oauth2 passdb, its socket in the smarthost's queue.
cat > "$DV/oauth2.conf.ext" <<CF
introspection_mode = post
introspection_url = https://127.0.0.1:8443/introspect
tls_ca_cert_file = $E2E_DIR/certs/ca.pem
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
CF
cat > "$DV/dovecot.conf" <<CF
protocols =
base_dir = $DV/run/
state_dir = $DV/state
log_path = $DV/dovecot.log
ssl = no
auth_mechanisms = xoauth2 oauthbearer
auth_verbose = yes
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $DV/oauth2.conf.ext
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}
service auth {
  unix_listener $S/queue/private/dovecot-auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
CF
ns dovecot -c "$DV/dovecot.conf" || die "dovecot did not start: $(tail -5 "$DV/dovecot.log" 2>/dev/null)"
for _ in $(seq 50); do [ -S "$S/queue/private/dovecot-auth" ] && break; sleep 0.1; done
postconf -c "$S" -M "127.0.0.1:2587/inet = 127.0.0.1:2587 inet n - n - - smtpd -o syslog_name=smarthost/oauth \
-o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes -o smtpd_sasl_auth_enable=yes \
-o smtpd_sasl_type=dovecot -o smtpd_sasl_path=private/dovecot-auth \
-o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
ns postfix -c "$S" reload >/dev/null 2>&1

# The relay: an OAuth account for the next hop, as the README shows.
mkdir -p "$R/oauth"; chown "$E2E_USER" "$R/oauth"; chmod 700 "$R/oauth"
store() {  # FILE REFRESH_TOKEN [CLIENT_ID]
  cat > "$1" <<JSON
{"token_endpoint": "https://127.0.0.1:8443/token", "client_id": "${3:-client-1}",
 "client_secret": "cs-test-secret", "grant_type": "refresh_token", "refresh_token": "$2",
 "access_token": "at-expired-old", "expires_at": $(( $(date +%s) - 60 )),
 "refreshed_at": 0, "refresh_token_issued_at": $(( $(date +%s) - 86400 ))}
JSON
  chown "$E2E_USER" "$1"; chmod 600 "$1"
}
store "$R/oauth/relay.json" rt-original
store "$R/oauth/revoked.json" rt-revoked
store "$R/oauth/many.json" rt-original client-many
# Tokens that look valid for an hour but the provider does not accept
# (revoked early): the server must refuse them.
store "$R/oauth/forged.json" rt-original client-forged
store "$R/oauth/noscope.json" rt-original client-noscope
for f in forged noscope; do
  sed -i -e 's/"at-expired-old"/"at-forged"/' -e "s/\"expires_at\": [0-9]*/\"expires_at\": $(( $(date +%s) + 3600 ))/" "$R/oauth/$f.json"
done
cat >> "$R/sasl_passwd" <<P
[smarthost.test]:2587    relay@example.com:oauth2:$R/oauth/relay.json
[wrongpw.test]:2587      relay@example.com:oauth2:$R/oauth/revoked.json
[plain.test]:2587        relay@example.com:oauth2:$R/oauth/forged.json
[noscope.test]:2587      relay@example.com:oauth2:$R/oauth/noscope.json
[smtp.gmail.com]:2587    relay@example.com:oauth2:$R/oauth/many.json
P
postmap -c "$R" "hash:$R/sasl_passwd"
# A second pipe(8) service, as an admin would add one: the shipped entry
# with "-o smtp_sasl_mechanism_filter=xoauth2" in its argv, so the smarthost
# (which offers XOAUTH2 and OAUTHBEARER) gets Google's XOAUTH2 from it and
# the standard OAUTHBEARER from the plain entry.
postconf -c "$R" -M authrelay/unix | sed -e 's/^authrelay /authrelay-x /' \
  -e 's/ --nexthop=/ -o smtp_sasl_mechanism_filter=xoauth2 --nexthop=/' >> "$R/master.cf"
grep -q "^authrelay-x .*-o smtp_sasl_mechanism_filter=xoauth2 --nexthop=" "$R/master.cf" || die "no authrelay-x entry"
cat >> "$R/transport" <<T
oauth.test       authrelay-x:[smarthost.test]:2587
revoked.test     authrelay:[wrongpw.test]:2587
forged.test      authrelay:[plain.test]:2587
noscope.test     authrelay:[noscope.test]:2587
many.test        authrelay:[smtp.gmail.com]:2587
T
e2e_relay_conf "smtp_sasl_auth_enable = yes" "smtp_sasl_password_maps = hash:$R/sasl_passwd" \
  "smtp_tls_CAfile = $E2E_DIR/certs/ca.pem"

# 1. Expired access token: refreshed once, delivered with a verified token.
printf 'From: a@example.org\nSubject: oauth\nMessage-ID: <oauth-1@e2e.test>\n\nover OAuth\n' > "$E2E_DIR/o1.eml"
e2e_send a@example.org someone@oauth.test "$E2E_DIR/o1.eml"
if e2e_wait_maildir "oauth-1@e2e.test" 30 >/dev/null; then
  ok "delivered through a smarthost that verified the OAuth token"
else bad "not delivered: $(tail -3 "$R/maillog"; tail -3 "$DV/dovecot.log")"; fi
grep -q "authenticated to smarthost.test\[127.0.0.1\]:2587 as relay@example.com with mechanism XOAUTH2" \
  "$R/log/authrelay.log" && ok "authrelay authenticated with XOAUTH2 (mechanism filter from the master.cf -o)" \
  || bad "no XOAUTH2 AUTH line: $(grep -i auth "$R/log/authrelay.log" | tail -3)"
[ "$(grep -c '^refresh_token' "$E2E_DIR/requests")" = 1 ] && ok "the expired token was refreshed once" \
  || bad "refresh requests: $(cat "$E2E_DIR/requests")"
grep -q "passdb(relay@example.com" "$DV/dovecot.log" 2>/dev/null || grep -q "relay@example.com" "$S/maillog" \
  && ok "the smarthost's log names the OAuth user" || bad "smarthost log: $(tail -3 "$S/maillog")"

# 2. The next delivery uses the saved token.
printf 'From: a@example.org\nSubject: oauth 2\nMessage-ID: <oauth-2@e2e.test>\n\nagain\n' > "$E2E_DIR/o2.eml"
e2e_send a@example.org someone@oauth.test "$E2E_DIR/o2.eml"
e2e_wait_maildir "oauth-2@e2e.test" 30 >/dev/null && [ "$(grep -c '^refresh_token' "$E2E_DIR/requests")" = 1 ] \
  && ok "second delivery reused the saved token (still 1 refresh)" || bad "second delivery: $(cat "$E2E_DIR/requests")"

# 2b. Twenty messages at once, all holding the same expired token: Postfix
# runs authrelay for them in parallel; one refresh request in all.
senders=()
for i in $(seq 20); do
  printf 'From: a@example.org\nSubject: many\nMessage-ID: <oauth-many-%s@e2e.test>\n\nmany\n' "$i" > "$E2E_DIR/m$i.eml"
  e2e_send a@example.org "rcpt$i@many.test" "$E2E_DIR/m$i.eml" &
  senders+=($!)
done
wait "${senders[@]}"
for _ in $(seq 240); do
  [ "$(grep -l "oauth-many-" "$S"/maildir/new/* 2>/dev/null | wc -l)" -ge 20 ] && break; sleep 0.25
done
got=$(grep -l "oauth-many-" "$S"/maildir/new/* 2>/dev/null | wc -l)
refreshes=$(grep -c '^refresh_token client-many$' "$E2E_DIR/requests" || true)
[ "$got" = 20 ] && [ "$refreshes" = 1 ] && ok "20 concurrent deliveries with an expired token: 20 delivered, 1 refresh request" \
  || bad "20 concurrent: delivered $got, refresh requests $refreshes"
grep -q "authenticated to smtp.gmail.com\[127.0.0.1\]:2587 as relay@example.com with mechanism OAUTHBEARER" \
  "$R/log/authrelay.log" && ok "without the filter, OAUTHBEARER (RFC 7628) is preferred" || bad "no OAUTHBEARER AUTH line"

# 2c. An account enrolled with --oauth-enrol (device flow), run as root
# into the pipe user's directory: the store is the pipe user's, and mail
# for the next hop goes through with the token enrolment got.
ns "$E2E_BIN" -c "$R" --oauth-enrol "$R/oauth/enrolled.json" --provider=microsoft --client-id=public-e2e \
  --device-endpoint=https://127.0.0.1:8443/devicecode --token-endpoint=https://127.0.0.1:8443/token \
  > "$E2E_DIR/enrol.out" 2>&1 < /dev/null &
EN=$!
for _ in $(seq 50); do grep -q "enter the code WDJB-MJHT" "$E2E_DIR/enrol.out" && break; sleep 0.1; done
ns curl -s --cacert "$E2E_DIR/certs/ca.pem" "https://127.0.0.1:8443/approve?user_code=WDJB-MJHT" > /dev/null
if wait "$EN" && [ "$(stat -c '%U %a' "$R/oauth/enrolled.json")" = "$E2E_USER 600" ]; then
  ok "enrolled by device flow as root: store 600, owned by the pipe user"
else bad "enrolment: $(cat "$E2E_DIR/enrol.out"); $(stat -c '%U %a' "$R/oauth/enrolled.json" 2>&1)"; fi
mv "$R/oauth/enrolled.json" "$R/oauth/many.json"   # [smtp.gmail.com]:2587 now uses the enrolled account
printf 'From: a@example.org\nSubject: enrolled\nMessage-ID: <oauth-enrolled@e2e.test>\n\nenrolled\n' > "$E2E_DIR/oe.eml"
e2e_send a@example.org someone@many.test "$E2E_DIR/oe.eml"
e2e_wait_maildir "oauth-enrolled@e2e.test" 30 >/dev/null && ! grep -q "^refresh_token public-e2e" "$E2E_DIR/requests" \
  && ok "delivered with the enrolled token (no refresh needed)" || bad "enrolled delivery: $(tail -3 "$R/maillog")"

# 2d. A Google service account (domain-wide delegation) enrolled as root:
# the endpoint verifies the JWT bearer grant's signature with the public
# key, and the smarthost accepts the token it issued for the mailbox.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$E2E_DIR/sa.pem" 2>/dev/null
openssl pkey -in "$E2E_DIR/sa.pem" -pubout -out "$E2E_DIR/sa.pub" 2>/dev/null
python3 - "$E2E_DIR" "$R/oauth/sa-key.json" <<'PY'
import json, sys
d, key = sys.argv[1], sys.argv[2]
json.dump({"type": "service_account", "private_key": open(f"{d}/sa.pem").read(),
           "client_email": "relay@e2e.iam.gserviceaccount.com", "token_uri": "https://127.0.0.1:8443/token"},
          open(key, "w"))
json.dump({"service_accounts": {"relay@e2e.iam.gserviceaccount.com": f"{d}/sa.pub"}}, open(f"{d}/trust.json", "w"))
PY
chown "$E2E_USER" "$R/oauth/sa-key.json"; chmod 600 "$R/oauth/sa-key.json"
if ns "$E2E_BIN" -c "$R" --oauth-enrol "$R/oauth/sa.json" --flow=service-account --key-file="$R/oauth/sa-key.json" \
     --subject=relay@example.com > "$E2E_DIR/enrol-sa.out" 2>&1 < /dev/null \
   && [ "$(stat -c '%U %a' "$R/oauth/sa.json")" = "$E2E_USER 600" ]; then
  ok "service account enrolled as root: JWT bearer grant verified, store 600 owned by the pipe user"
else bad "service account enrolment: $(cat "$E2E_DIR/enrol-sa.out")"; fi
# Expired, so the delivery itself signs a new assertion as the pipe user.
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); s['expires_at']=1; json.dump(s,open(sys.argv[1],'w'))" "$R/oauth/sa.json"
mv "$R/oauth/sa.json" "$R/oauth/many.json"   # [smtp.gmail.com]:2587 now uses the service account
printf 'From: a@example.org\nSubject: sa\nMessage-ID: <oauth-sa@e2e.test>\n\nservice account\n' > "$E2E_DIR/osa.eml"
e2e_send a@example.org someone@many.test "$E2E_DIR/osa.eml"
e2e_wait_maildir "oauth-sa@e2e.test" 30 >/dev/null && [ "$(grep -c 'grant-type:jwt-bearer' "$E2E_DIR/requests")" = 2 ] \
  && ok "delivered with a service-account token fetched by the delivery (a second signed JWT grant)" \
  || bad "service account delivery: $(cat "$E2E_DIR/requests"; tail -3 "$R/maillog")"

# 3. Revoked refresh token: deferred with the provider's words and the fix.
printf 'From: a@example.org\nSubject: revoked\nMessage-ID: <oauth-3@e2e.test>\n\nno\n' > "$E2E_DIR/o3.eml"
e2e_send a@example.org someone@revoked.test "$E2E_DIR/o3.eml"
if line=$(e2e_wait_log "someone@revoked.test.*status=deferred" 30); then
  grep -q "dsn=4.7.0, status=deferred (.*OAuth token refresh failed: invalid_grant: Token has been expired or revoked." <<<"$line" \
    && ok "revoked refresh token: deferred 4.7.0 with invalid_grant" || bad "deferral text: $line"
else bad "not deferred: $(tail -3 "$R/maillog")"; fi
grep -q "fix: the refresh token was revoked or expired.*enrol the account again" "$R/log/authrelay.log" \
  && ok "the log says how to fix it" || bad "no fix in the log"
ns postqueue -c "$R" -j | grep -q "someone@revoked.test" && ok "the mail stays queued" || bad "mail left the queue"

# 4. The smarthost really checks tokens. One it refuses although the store
# says it is valid for an hour (revoked early) is renewed once and AUTH is
# tried again on the same connection: delivered.
printf 'From: a@example.org\nSubject: forged\nMessage-ID: <oauth-4@e2e.test>\n\nrenewed\n' > "$E2E_DIR/o4.eml"
e2e_send a@example.org someone@forged.test "$E2E_DIR/o4.eml"
if e2e_wait_maildir "oauth-4@e2e.test" 30 >/dev/null; then
  grep -q "server plain.test\[127.0.0.1\] refused the OAuth access token for relay@example.com (535 .*); getting a new one and trying once more" \
    "$R/log/authrelay.log" && [ "$(grep -c '^refresh_token client-forged$' "$E2E_DIR/requests")" = 1 ] \
    && ok "a valid-looking token the smarthost refused (535): renewed once, AUTH retried, delivered" \
    || bad "renewal: $(grep -i 'refused\|plain.test' "$R/log/authrelay.log" | tail -3); $(cat "$E2E_DIR/requests")"
else bad "refused token not renewed: $(tail -3 "$R/maillog")"; fi
# ... but a fresh token the server refuses too (no SMTP scope) is final:
# one renewal, no loop, deferred with the server's 535.
printf 'From: a@example.org\nSubject: noscope\nMessage-ID: <oauth-5@e2e.test>\n\nno\n' > "$E2E_DIR/o5.eml"
e2e_send a@example.org someone@noscope.test "$E2E_DIR/o5.eml"
if line=$(e2e_wait_log "someone@noscope.test.*status=deferred" 30); then
  grep -qE "dsn=4\.7\.[0-9]+, status=deferred \(SASL authentication failed; server noscope.test\[127.0.0.1\] said: 535" <<<"$line" \
    && [ "$(grep -c '^refresh_token client-noscope$' "$E2E_DIR/requests")" = 1 ] \
    && ok "a renewed token refused again: deferred with the 535, after exactly one refresh" \
    || bad "noscope: $line; $(grep -c client-noscope "$E2E_DIR/requests") refreshes"
else bad "noscope not deferred: $(tail -3 "$R/maillog")"; fi

# 6. Egress through a SOCKS5 proxy with authentication (authrelay_proxy_maps
# in authrelay.cf): the SMTP connection (by name: the proxy resolves it),
# verified TLS end to end, and the token refresh all go through the proxy.
ns python3 "$E2E_SRC/tests/proxy/test_proxy.py" socks5 --user relay --password pr0xy-e2e-pw \
  --resolve smarthost.test=127.0.0.1 > "$E2E_DIR/proxy.out" 2> "$E2E_DIR/proxy.log" &
for _ in $(seq 50); do grep -q '^PORT ' "$E2E_DIR/proxy.out" 2>/dev/null && break; sleep 0.1; done
PP=$(sed -n 's/^PORT \([0-9]*\) .*/\1/p' "$E2E_DIR/proxy.out")
PX=$(sed -n 's/^PORT .* PID \([0-9]*\)$/\1/p' "$E2E_DIR/proxy.out")
echo "[smarthost.test]:2587 socks5://relay:pr0xy-e2e-pw@127.0.0.1:$PP" > "$R/proxy_maps"
chgrp "$E2E_USER" "$R/proxy_maps"; chmod 640 "$R/proxy_maps"; postmap -c "$R" "hash:$R/proxy_maps"
echo "authrelay_proxy_maps = hash:$R/proxy_maps" >> "$R/authrelay.cf"
store "$R/oauth/proxied.json" rt-original client-proxy
sed -i "s|^\[smarthost.test\]:2587 .*|[smarthost.test]:2587    relay@example.com:oauth2:$R/oauth/proxied.json|" "$R/sasl_passwd"
postmap -c "$R" "hash:$R/sasl_passwd"
printf 'From: a@example.org\nSubject: proxy\nMessage-ID: <oauth-proxy@e2e.test>\n\nvia socks5\n' > "$E2E_DIR/op.eml"
e2e_send a@example.org someone@oauth.test "$E2E_DIR/op.eml"
if e2e_wait_maildir "oauth-proxy@e2e.test" 30 >/dev/null; then
  ok "delivered through the SOCKS5 proxy"
  grep -q "someone@oauth.test.*status=deferred" "$R/maillog" && bad "deferred once on the way: $(grep 'someone@oauth.test.*deferred' "$R/maillog")"
else bad "not delivered through the proxy: $(tail -3 "$R/maillog"; tail -3 "$E2E_DIR/proxy.log")"; fi
grep -q "AUTH user=relay ok" "$E2E_DIR/proxy.log" && grep -q "CONNECT smarthost.test:2587 atyp=domain" "$E2E_DIR/proxy.log" \
  && ok "the proxy authenticated authrelay and was asked for smarthost.test:2587 by name" \
  || bad "proxy log: $(cat "$E2E_DIR/proxy.log")"
grep -q "Verified TLS connection established to smarthost.test\[via proxy\]:2587" "$R/log/authrelay.log" \
  && ok "TLS verified end to end through the proxy" || bad "no verified TLS line: $(grep -i 'tls' "$R/log/authrelay.log" | tail -2)"
grep -q "CONNECT 127.0.0.1:8443" "$E2E_DIR/proxy.log" && [ "$(grep -c '^refresh_token client-proxy$' "$E2E_DIR/requests")" = 1 ] \
  && ok "the token refresh went through the proxy too" || bad "token refresh not through the proxy: $(cat "$E2E_DIR/proxy.log")"
kill "$PX" 2>/dev/null || true   # the proxy process itself (ns runs it in a subshell)
# A proxy that is down: deferred, and the line says it was the proxy.
printf 'From: a@example.org\nSubject: proxy down\nMessage-ID: <oauth-proxy-down@e2e.test>\n\nno\n' > "$E2E_DIR/opd.eml"
e2e_send a@example.org someone2@oauth.test "$E2E_DIR/opd.eml"
if line=$(e2e_wait_log "someone2@oauth.test.*status=deferred" 30); then
  grep -q "dsn=4.4.1, status=deferred (connect to proxy socks5 127.0.0.1:$PP failed (the proxy, not the mail server)" <<<"$line" \
    && ok "proxy down: deferred 4.4.1, the line names the proxy" || bad "proxy-down line: $line"
else bad "not deferred with the proxy down: $(tail -3 "$R/maillog")"; fi

# 5. No token or client secret anywhere.
if grep -rqE "at-fresh|at-expired|at-forged|at-sa-|rt-original|rt-rotated|rt-revoked|rt-enrolled|cs-test-secret|pr0xy-e2e-pw|PRIVATE KEY" "$R/maillog" "$R/log" "$S/maillog" "$DV/dovecot.log" "$E2E_DIR/enrol.out" "$E2E_DIR/enrol-sa.out"; then
  bad "a token or secret was logged"
else ok "no token or client secret in the relay, authrelay, smarthost or Dovecot logs"; fi
if [ -n "${AUTHRELAY_TEST_ARTIFACTS:-}" ]; then
  mkdir -p "$AUTHRELAY_TEST_ARTIFACTS/oauth-e2e-$$" "$AUTHRELAY_TEST_ARTIFACTS/secrets"
  cp "$DV/dovecot.log" "$AUTHRELAY_TEST_ARTIFACTS/oauth-e2e-$$/" 2>/dev/null || true
  printf '%s\n' at-fresh-1 at-forged rt-rotated-1 cs-test-secret pr0xy-e2e-pw at-sa- "$(sed -n 2p "$E2E_DIR/sa.pem")" > "$AUTHRELAY_TEST_ARTIFACTS/secrets/oauth-e2e-$$"
fi
e2e_finish
