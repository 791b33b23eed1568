#!/bin/bash
# OAuth token lifecycle through the real binary, real libcurl and a real
# HTTPS token endpoint on 127.0.0.1 (tests/oauth/token_endpoint.py, the
# protocol tests' CA):
#  - 20 concurrent callers holding an expired access token: exactly one
#    refresh request; all get the token; the rotated refresh token is saved;
#  - a revoked refresh token defers 4.7.0 with the provider's words, and the
#    log says how to fix it (Google's and Microsoft's wording);
#  - the client-credentials grant (Microsoft 365 app-only);
#  - an endpoint whose certificate our CAs do not trust gets nothing;
#  - enrolment: the device flow (pending, slow_down, approved or declined),
#    the paste-code flow with PKCE (and a foreign pasted address refused),
#    client credentials; the status shows the refresh token's likely end;
#  - --check warns ahead of a refresh token's likely end, errs past it;
#  - without a person (RFC 7523): a Google service account's JWT bearer
#    grant and a Microsoft certificate client assertion, each verified by
#    the endpoint with the public key; enrolment, the store, --oauth-status,
#    a cached token reused, a wrong key refused with the provider's words,
#    an unsafe key file refused with the fix, --check;
#  - no token or client secret in any output or log.
#   token_lifecycle_test.sh AUTHRELAY CERT_DIR
set -uo pipefail
BIN=$1 CERTS=$2
. "$(dirname "$0")/../lib/harness.sh"
D=$(t_scratch oauth)
PORT=$((20000 + RANDOM % 20000))
cleanup() { t_stop "${EP:-}"; rm -rf "$D"; }
trap cleanup EXIT

t_serve "$D/endpoint.out" env TOKEN_ENDPOINT_TRUST="$D/trust.json" python3 "$(dirname "$0")/token_endpoint.py" "$PORT" \
  "$CERTS/server.pem" "$CERTS/server.key" "$D/requests"
EP=$T_SERVER_PID
mkdir -p "$D/cf"
cat > "$D/cf/main.cf" <<CF
smtp_tls_CAfile = $CERTS/ca.pem
authrelay_log_file = $D/authrelay.log
CF
store() {  # FILE REFRESH_TOKEN [GRANT]
  cat > "$1" <<JSON
{
  "token_endpoint": "https://127.0.0.1:$PORT/token",
  "client_id": "client-1",
  "client_secret": "cs-test-secret",
  "grant_type": "${3:-refresh_token}",
  "scope": "https://outlook.office365.com/.default",
  "refresh_token": "$2",
  "access_token": "at-expired-old",
  "expires_at": $(( $(date +%s) - 60 )),
  "refreshed_at": $(( $(date +%s) - 3700 )),
  "refresh_token_issued_at": $(( $(date +%s) - 86400 ))
}
JSON
  chmod 600 "$1"
}
run() { "$BIN" -c "$D/cf" "$@"; }

# 1. Twenty at once, one refresh.
store "$D/gmail.json" rt-original
: > "$D/requests"
for i in $(seq 20); do run --oauth-status "$D/gmail.json" --refresh > "$D/c$i.out" 2>&1 & done
wait_all=0
for job in $(jobs -p); do [ "$job" = "$EP" ] && continue; wait "$job" || wait_all=1; done
refreshed=$(grep -l "access token refreshed" "$D"/c*.out | wc -l)
valid=$(grep -l "access token: valid for" "$D"/c*.out | wc -l)
[ "$(wc -l < "$D/requests")" = 1 ] && [ "$refreshed" = 1 ] && [ "$valid" = 20 ] && [ "$wait_all" = 0 ] \
  && ok "20 concurrent callers with an expired token: 1 refresh request, 20 valid tokens" \
  || bad "concurrency: requests=$(wc -l < "$D/requests") refreshed=$refreshed valid=$valid rc=$wait_all $(cat "$D/c1.out")"
python3 - "$D/gmail.json" <<'PY' && ok "rotated refresh token saved; store still 0600 JSON" || bad "store after refresh: $(cat "$D/gmail.json")"
import json, os, stat, sys
s = json.load(open(sys.argv[1]))
assert s["refresh_token"] == "rt-rotated-1", s["refresh_token"]
assert s["access_token"] == "at-fresh-1"
assert stat.S_IMODE(os.stat(sys.argv[1]).st_mode) == 0o600
PY
out=$(run --oauth-status "$D/gmail.json" --refresh 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "still valid; not refreshed" <<<"$out" && [ "$(wc -l < "$D/requests")" = 1 ] \
  && ok "a valid token is used without a request" || bad "valid token: rc=$rc $out"

# 2. Revoked refresh tokens defer with the provider's words and the fix.
store "$D/revoked.json" rt-revoked
out=$(run --oauth-status "$D/revoked.json" --refresh 2>&1); rc=$?
[ "$rc" = 75 ] && grep -q "^4.7.0 OAuth token refresh failed: invalid_grant: Token has been expired or revoked." <<<"$out" \
  && grep -q "fix: the refresh token was revoked or expired.*enrol the account again" "$D/authrelay.log" \
  && ok "revoked (Google): deferred 4.7.0 with invalid_grant, fix in the log" || bad "revoked: rc=$rc $out"
store "$D/aad.json" rt-aad
out=$(run --oauth-status "$D/aad.json" --refresh 2>&1); rc=$?
[ "$rc" = 75 ] && grep -q "AADSTS700082" <<<"$out" && grep -q "fix: the refresh token expired after inactivity" "$D/authrelay.log" \
  && ok "expired (Microsoft AADSTS700082): deferred, fix in the log" || bad "aad: rc=$rc $out"
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['refresh_token']=='rt-revoked'" "$D/revoked.json" \
  && ok "a failed refresh leaves the store as it was" || bad "store changed after failure"

# 3. Client credentials (no refresh token at all).
store "$D/app.json" "" client_credentials
out=$(run --oauth-status "$D/app.json" --refresh 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "access token refreshed" <<<"$out" && grep -q "grant: client_credentials" <<<"$out" \
  && grep -q "client_credentials client-1" "$D/requests" && ok "client-credentials grant" || bad "client credentials: rc=$rc $out"

# 4. Our CAs decide whom we send the client secret to.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other CA" -keyout "$D/other.key" -out "$D/other.pem" 2>/dev/null
before=$(wc -l < "$D/requests")
store "$D/untrusted.json" rt-original
out=$(run -o "smtp_tls_CAfile=$D/other.pem" --oauth-status "$D/untrusted.json" --refresh 2>&1); rc=$?
[ "$rc" = 75 ] && grep -q "^4.7.0 OAuth token refresh failed: cannot reach the token endpoint https://127.0.0.1:$PORT" <<<"$out" \
  && [ "$(wc -l < "$D/requests")" = "$before" ] && ok "untrusted endpoint certificate: no request sent, deferred" \
  || bad "untrusted: rc=$rc $out"

# 5. Unsafe store: readable by others.
store "$D/open.json" rt-original; chmod 644 "$D/open.json"
out=$(run --oauth-status "$D/open.json" --refresh 2>&1); rc=$?
[ "$rc" = 75 ] && grep -q "readable or writable by others (chmod 600 it)" <<<"$out" \
  && ok "a store readable by others is refused, with the fix" || bad "open store: rc=$rc $out"

# 7. Enrolment, device flow (Microsoft's): the code is shown, the endpoint
# is polled through authorization_pending and slow_down until the user
# approves; the store is written 0600 with the first refresh token.
E="https://127.0.0.1:$PORT"
mkdir -m 700 "$D/enrol"
run --oauth-enrol "$D/enrol/m365.json" --provider=microsoft --client-id=public-m365 \
  --device-endpoint="$E/devicecode" --token-endpoint="$E/token" > "$D/e-device.out" 2>&1 < /dev/null &
EN=$!
for _ in $(seq 100); do [ "$(grep -c '^urn:ietf:params:oauth:grant-type:device_code' "$D/requests")" -ge 2 ] && break; sleep 0.1; done
sleep 0.5  # the endpoint answers 0.3 s after counting: let the second poll get its slow_down
curl -s --cacert "$CERTS/ca.pem" "$E/approve?user_code=WDJB-MJHT" > /dev/null
wait "$EN"; rc=$?
grep -q "open https://127.0.0.1:$PORT/device in any browser and enter the code WDJB-MJHT" "$D/e-device.out" \
  && [ "$rc" = 0 ] && grep -q "^enrolled: $D/enrol/m365.json, mode 600" "$D/e-device.out" \
  && [ "$(grep -c '^urn:ietf:params:oauth:grant-type:device_code public-m365' "$D/requests")" -ge 3 ] \
  && ok "device flow: code shown, pending and slow_down polled through, store written" || bad "device flow: rc=$rc $(cat "$D/e-device.out")"
python3 - "$D/enrol/m365.json" <<'PY' && ok "enrolled store: 0600, refresh token, Microsoft scope kept for refresh" || bad "enrolled store: $(cat "$D/enrol/m365.json")"
import json, os, stat, sys
s = json.load(open(sys.argv[1]))
assert s["refresh_token"].startswith("rt-enrolled-"), s
assert s["grant_type"] == "refresh_token" and s["provider"] == "microsoft"
assert s["scope"] == "offline_access https://outlook.office.com/SMTP.Send", s["scope"]
assert s["client_id"] == "public-m365" and "client_secret" not in s
assert stat.S_IMODE(os.stat(sys.argv[1]).st_mode) == 0o600
PY
out=$(run --oauth-status "$D/enrol/m365.json" 2>&1)
grep -qE "refresh token likely to work until [0-9-]+ [0-9:]+ UTC \((89|90) days\): Microsoft drops refresh tokens unused for 90 days" <<<"$out" \
  && ok "status: the refresh token's likely end (90 days unused, Microsoft)" || bad "status outlook: $out"
# ... and a declined sign-in says so.
run --oauth-enrol "$D/enrol/denied.json" --provider=microsoft --client-id=public-m365 \
  --device-endpoint="$E/devicecode" --token-endpoint="$E/token" > "$D/e-denied.out" 2>&1 < /dev/null &
EN=$!
for _ in $(seq 50); do grep -q "enter the code" "$D/e-denied.out" && break; sleep 0.1; done
curl -s --cacert "$CERTS/ca.pem" "$E/deny?user_code=WDJB-MJHT" > /dev/null
wait "$EN"; rc=$?
[ "$rc" = 75 ] && grep -q "OAuth enrolment failed: the sign-in was declined (access_denied" "$D/e-denied.out" \
  && [ ! -e "$D/enrol/denied.json" ] && ok "declined sign-in: one clear line, no store" || bad "denied: rc=$rc $(cat "$D/e-denied.out")"

# 8. Enrolment, paste-code flow (Google's): PKCE, the redirected address
# pasted back; a pasted address from another sign-in is refused.
printf 'cs-test-secret\n' > "$D/client_secret"; chmod 600 "$D/client_secret"
paste_flow() {  # STORE OUTFILE MANGLE_STATE
  rm -f "$D/paste"; mkfifo "$D/paste"
  run --oauth-enrol "$1" --provider=google --client-id=client-gmail --client-secret-file="$D/client_secret" \
    --authorize-endpoint="$E/authorize" --token-endpoint="$E/token" < "$D/paste" > "$2" 2>&1 &
  EN=$!
  exec 3> "$D/paste"
  for _ in $(seq 50); do grep -q "^$E/authorize?" "$2" && break; sleep 0.1; done
  url=$(grep "^$E/authorize?" "$2")
  redirect=$(curl -s --cacert "$CERTS/ca.pem" -o /dev/null -w '%{redirect_url}' "$url")
  [ "$3" = yes ] && redirect=$(sed 's/state=[^&]*/state=someone-elses/' <<<"$redirect")
  echo "$redirect" >&3; exec 3>&-
  wait "$EN"
}
paste_flow "$D/enrol/gmail.json" "$D/e-code.out" no; rc=$?
grep -q "access_type=offline&prompt=consent" "$D/e-code.out" && grep -q "code_challenge_method=S256" "$D/e-code.out" \
  && [ "$rc" = 0 ] && grep -q "^enrolled: $D/enrol/gmail.json" "$D/e-code.out" \
  && grep -q "^authorization_code client-gmail" "$D/requests" \
  && ok "paste-code flow: PKCE verified by the endpoint, store written" || bad "code flow: rc=$rc $(cat "$D/e-code.out")"
python3 - "$D/enrol/gmail.json" <<'PY' && ok "Google store: refresh token and client secret kept, no scope" || bad "gmail store: $(cat "$D/enrol/gmail.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["refresh_token"].startswith("rt-enrolled-") and s["client_secret"] == "cs-test-secret"
assert s["provider"] == "google" and "scope" not in s
PY
out=$(run --oauth-status "$D/enrol/gmail.json" 2>&1)
grep -q "(7 days): if the Google Cloud app's consent screen is in Testing status" <<<"$out" \
  && ok "status: a new Google refresh token warns of the 7-day Testing limit" || bad "google outlook: $out"
paste_flow "$D/enrol/mixed.json" "$D/e-mixed.out" yes; rc=$?
[ "$rc" = 75 ] && grep -q "belongs to another sign-in (state differs)" "$D/e-mixed.out" && [ ! -e "$D/enrol/mixed.json" ] \
  && ok "a pasted address from another sign-in is refused" || bad "state check: rc=$rc $(cat "$D/e-mixed.out")"

# 9. Enrolment, app-only (client credentials): one token proves the secret.
out=$(run --oauth-enrol "$D/enrol/app.json" --provider=microsoft --flow=client-credentials --tenant=contoso.example \
  --client-id=client-1 --client-secret-file="$D/client_secret" --token-endpoint="$E/token" 2>&1 < /dev/null); rc=$?
[ "$rc" = 0 ] && grep -q "The client secret works" <<<"$out" \
  && python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['grant_type']=='client_credentials' and s['scope']=='https://outlook.office365.com/.default'" "$D/enrol/app.json" \
  && ok "client-credentials enrolment: secret proven, store written" || bad "app-only enrol: rc=$rc $out"
printf 'not-the-secret\n' > "$D/wrong_secret"
out=$(run --oauth-enrol "$D/enrol/wrong.json" --provider=microsoft --flow=client-credentials --tenant=contoso.example \
  --client-id=client-1 --client-secret-file="$D/wrong_secret" --token-endpoint="$E/token" 2>&1 < /dev/null); rc=$?
[ "$rc" = 75 ] && grep -q "OAuth enrolment failed: OAuth token refresh failed: invalid_client" <<<"$out" \
  && grep -q "^fix: check client_id and client_secret in the store" <<<"$out" && [ ! -e "$D/enrol/wrong.json" ] \
  && ok "a wrong client secret: refused at enrolment, with the fix, no store" || bad "wrong secret: rc=$rc $out"
out=$(run --oauth-enrol "$D/enrol/x.json" --provider=microsoft --flow=client-credentials --client-id=c 2>&1 < /dev/null); rc=$?
[ "$rc" = 75 ] && grep -q "needs --tenant" <<<"$out" && ok "a missing enrolment flag: one line naming it" || bad "usage: $out"

# 10. --check reads every OAuth store the credentials map names and warns
# before a refresh token is likely to die (authrelay_oauth_expiry_warning,
# 14 days by default), errs when it probably has.
aged() {  # FILE DAYS_SINCE_LAST_REFRESH
  store "$1" rt-original
  python3 - "$1" "$2" <<'PY'
import json, sys, time
s = json.load(open(sys.argv[1])); t = int(time.time()) - int(sys.argv[2]) * 86400
s.update(token_endpoint="https://login.microsoftonline.com/common/oauth2/v2.0/token", refreshed_at=t, refresh_token_issued_at=t)
json.dump(s, open(sys.argv[1], "w"))
PY
}
aged "$D/fresh.json" 1; aged "$D/aging.json" 80; aged "$D/dead.json" 95
cat > "$D/sasl_passwd" <<P
[fresh.example]:587   a@example.com:oauth2:$D/fresh.json
[aging.example]:587   b@example.com:oauth2:$D/aging.json
[dead.example]:587    c@example.com:oauth2:$D/dead.json
[gone.example]:587    d@example.com:oauth2:$D/missing.json
[plain.example]:587   e@example.com:app-password
P
postmap -c "$D/cf" "hash:$D/sasl_passwd"
# --check run as root judges each store as its owner, the pipe user; a
# root-owned store is an error (no delivery runs as root).
chown nobody "$D/fresh.json" "$D/aging.json" "$D/dead.json"
out=$(run -o smtp_sasl_auth_enable=yes -o "smtp_sasl_password_maps=hash:$D/sasl_passwd" --check 2>&1); rc=$?
grep -q "^warning: OAuth token store $D/aging.json: the refresh token may stop working in 10 days (Microsoft drops" <<<"$out" \
  && ok "--check warns 10 days before a Microsoft refresh token's 90 unused days run out" || bad "aging: $out"
grep -q "^error: OAuth token store $D/dead.json: the refresh token has probably stopped working" <<<"$out" \
  && grep -q "^error: OAuth token store $D/missing.json: cannot open" <<<"$out" && [ "$rc" = 75 ] \
  && ok "--check: a refresh token past its limit and a missing store are errors" || bad "dead/missing: rc=$rc $out"
! grep -q "fresh.json" <<<"$out" && ok "--check: a fresh store raises nothing" || bad "fresh: $out"
out=$(run -o smtp_sasl_auth_enable=yes -o "smtp_sasl_password_maps=hash:$D/sasl_passwd" --lookup "[aging.example]:587" 2>&1)
grep -q "=> username b@example.com, OAuth token store $D/aging.json (see authrelay --oauth-status $D/aging.json)" <<<"$out" \
  && ! grep -q "password <hidden" <<<"$out" && ok "--lookup names the OAuth token store, not a password" || bad "lookup: $out"
out=$(run -o smtp_sasl_auth_enable=yes -o "smtp_sasl_password_maps=hash:$D/sasl_passwd" -o authrelay_oauth_expiry_warning=5d --check 2>&1)
! grep -q "aging.json" <<<"$out" && ok "authrelay_oauth_expiry_warning = 5d: no warning 10 days ahead" || bad "window: $out"

# 11. Without a person: Google service account (JWT bearer grant) and a
# Microsoft certificate (client assertion). Keys made here; the endpoint
# verifies each signature with the public key.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/sa.pem" 2>/dev/null
openssl pkey -in "$D/sa.pem" -pubout -out "$D/sa.pub" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/other-sa.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=authrelay app" -keyout "$D/app.key" -out "$D/app.crt" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/wrong-app.key" 2>/dev/null
chmod 600 "$D/sa.pem" "$D/app.key" "$D/wrong-app.key"
python3 - "$D" "$E/token" <<'PY'
import json, sys
d, token_uri = sys.argv[1], sys.argv[2]
for name, pem in (("sa-key.json", "sa.pem"), ("wrong-sa-key.json", "other-sa.pem")):
    json.dump({"type": "service_account", "project_id": "p", "private_key_id": "k1",
               "private_key": open(f"{d}/{pem}").read(), "client_email": "relay@p.iam.gserviceaccount.com",
               "client_id": "1", "token_uri": token_uri}, open(f"{d}/{name}", "w"))
json.dump({"service_accounts": {"relay@p.iam.gserviceaccount.com": f"{d}/sa.pub"},
           "certificates": {"app-cert-1": f"{d}/app.crt"}}, open(f"{d}/trust.json", "w"))
PY
chmod 600 "$D/sa-key.json" "$D/wrong-sa-key.json"
out=$(run --oauth-enrol "$D/enrol/sa.json" --flow=service-account --key-file="$D/sa-key.json" \
  --subject=mailbox@example.com 2>&1 < /dev/null); rc=$?
echo "$out" > "$D/e-sa.out"
[ "$rc" = 0 ] && grep -q "The service account may act for mailbox@example.com: the token endpoint issued an access token" <<<"$out" \
  && grep -q "grant-type:jwt-bearer ?$" "$D/requests" \
  && ok "service account: JWT bearer grant (RS256, sub = mailbox) verified by the endpoint with the public key" \
  || bad "service account enrol: rc=$rc $out"
python3 - "$D/enrol/sa.json" <<'PY' && ok "service-account store: jwt_bearer, key file, subject, numbers as numbers, no key inside" \
  || bad "sa store: $(cat "$D/enrol/sa.json")"
import json, sys
text = open(sys.argv[1]).read(); s = json.loads(text)
assert s["grant_type"] == "jwt_bearer" and s["subject"] == "mailbox@example.com", s
assert s["client_id"] == "relay@p.iam.gserviceaccount.com" and s["key_file"].endswith("/sa-key.json"), s
assert isinstance(s["expires_at"], int) and s["access_token"].startswith("at-sa-"), s
assert "PRIVATE KEY" not in text and "refresh_token" not in s and "\\/" not in text
PY
show_store() {  # the store as written, the access token hidden
  sed -E 's/"access_token": "[^"]*"/"access_token": "<hidden>"/' "$1" | sed 's/^/    /'
}
show_store "$D/enrol/sa.json"
out=$(run --oauth-status "$D/enrol/sa.json" 2>&1); echo "$out" > "$D/c-sa-status.out"
grep -q "^grant: jwt_bearer" <<<"$out" && grep -q "^service account: relay@p.iam.gserviceaccount.com, key file $D/sa-key.json, acting for mailbox@example.com" <<<"$out" \
  && grep -q "^no refresh token: a new access token is fetched with a signed assertion" <<<"$out" && grep -q "access token: valid for" <<<"$out" \
  && ! grep -q "refresh token likely" <<<"$out" && ok "--oauth-status for a service account: no refresh token to expire" || bad "sa status: $out"
sed -n '/^store:/,$p' <<<"$out" | sed 's/^/    /'
before=$(wc -l < "$D/requests")
out=$(run --oauth-status "$D/enrol/sa.json" --refresh 2>&1)
grep -q "still valid; not refreshed" <<<"$out" && [ "$(wc -l < "$D/requests")" = "$before" ] \
  && ok "service account: the cached token is used, no request" || bad "sa cached: $out"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); s['expires_at']=1; json.dump(s,open(sys.argv[1],'w'))" "$D/enrol/sa.json"
out=$(run --oauth-status "$D/enrol/sa.json" --refresh 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "access token refreshed" <<<"$out" && [ "$(wc -l < "$D/requests")" = $((before + 1)) ] \
  && ok "service account: an expired token is fetched again with a new assertion (under the store lock)" || bad "sa refetch: rc=$rc $out"
out=$(run --oauth-enrol "$D/enrol/sa-wrong.json" --flow=service-account --key-file="$D/wrong-sa-key.json" \
  --subject=mailbox@example.com 2>&1 < /dev/null); rc=$?
echo "$out" > "$D/e-sa-wrong.out"
[ "$rc" = 75 ] && grep -q "^4.7.0 OAuth enrolment failed: OAuth token refresh failed: invalid_grant: Invalid JWT Signature." <<<"$out" \
  && grep -q "^fix: check that $D/wrong-sa-key.json holds a current key of the service account" <<<"$out" \
  && [ ! -e "$D/enrol/sa-wrong.json" ] && ok "a JWT signed with another key: refused (invalid_grant: Invalid JWT Signature.), the fix names the key file, no store" \
  || bad "sa wrong key: rc=$rc $out"
grep -E "^(4.7.0|fix:)" <<<"$out" | sed 's/^/    /'
chmod 640 "$D/sa-key.json"
out=$(run --oauth-enrol "$D/enrol/sa2.json" --flow=service-account --key-file="$D/sa-key.json" --subject=m@example.com 2>&1 < /dev/null); rc=$?
[ "$rc" = 75 ] && grep -q "service account key file $D/sa-key.json: readable or writable by others (chmod 600 it)" <<<"$out" \
  && ok "a group-readable service account key file is refused, with the fix" || bad "sa key mode: rc=$rc $out"
chmod 600 "$D/sa-key.json"

out=$(run --oauth-enrol "$D/enrol/cert.json" --provider=microsoft --flow=client-credentials --tenant=contoso.example \
  --client-id=app-cert-1 --certificate="$D/app.crt" --key="$D/app.key" --token-endpoint="$E/token" 2>&1 < /dev/null); rc=$?
echo "$out" > "$D/e-cert.out"
[ "$rc" = 0 ] && grep -q "The certificate works: the token endpoint issued an access token" <<<"$out" \
  && grep -q "^client_credentials app-cert-1$" "$D/requests" \
  && ok "certificate client assertion (x5t#S256, iss=sub=client_id, aud, jti, exp) verified by the endpoint" \
  || bad "cert enrol: rc=$rc $out"
python3 - "$D/enrol/cert.json" <<'PY' && ok "certificate store: client_credentials with certificate and key paths, no secret" \
  || bad "cert store: $(cat "$D/enrol/cert.json")"
import json, sys
text = open(sys.argv[1]).read(); s = json.loads(text)
assert s["grant_type"] == "client_credentials" and s["certificate"].endswith("/app.crt"), s
assert s["private_key_file"].endswith("/app.key") and "client_secret" not in s and "PRIVATE KEY" not in text, s
assert isinstance(s["expires_at"], int) and s["access_token"].startswith("at-cert-")
PY
show_store "$D/enrol/cert.json"
out=$(run --oauth-status "$D/enrol/cert.json" 2>&1); echo "$out" > "$D/c-cert-status.out"
grep -q "^client assertion: certificate $D/app.crt, key $D/app.key" <<<"$out" && grep -q "^certificate thumbprint (x5t#S256): " <<<"$out" \
  && grep -q "^no refresh token: .* and the certificate" <<<"$out" && ok "--oauth-status for a certificate: thumbprint, expiry, no refresh token" \
  || bad "cert status: $out"
sed -n '/^store:/,$p' <<<"$out" | sed 's/^/    /'
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); s['expires_at']=1; json.dump(s,open(sys.argv[1],'w'))" "$D/enrol/cert.json"
out=$(run --oauth-status "$D/enrol/cert.json" --refresh 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "access token refreshed" <<<"$out" && ok "certificate: a new assertion (new jti) when the token runs out" || bad "cert refetch: rc=$rc $out"
out=$(run --oauth-enrol "$D/enrol/cert-wrong.json" --provider=microsoft --flow=client-credentials --tenant=contoso.example \
  --client-id=app-cert-1 --certificate="$D/app.crt" --key="$D/wrong-app.key" --token-endpoint="$E/token" 2>&1 < /dev/null); rc=$?
echo "$out" > "$D/e-cert-wrong.out"
[ "$rc" = 75 ] && grep -q "invalid_client: AADSTS700027: Client assertion contains an invalid signature." <<<"$out" \
  && grep -q "^fix: upload $D/app.crt to the app registration (Certificates & secrets) and check that $D/wrong-app.key is its private key" <<<"$out" \
  && [ ! -e "$D/enrol/cert-wrong.json" ] && ok "an assertion signed with a key not the certificate's: refused (AADSTS700027), the fix names both files" \
  || bad "cert wrong key: rc=$rc $out"
grep -E "^(4.7.0|fix:)" <<<"$out" | sed 's/^/    /'
cat > "$D/sasl_passwd2" <<P
[sa.example]:587   mailbox@example.com:oauth2:$D/enrol/sa.json
[cert.example]:587 app@example.com:oauth2:$D/enrol/cert.json
P
postmap -c "$D/cf" "hash:$D/sasl_passwd2"
chown nobody "$D/enrol/sa.json" "$D/enrol/cert.json" "$D/sa-key.json" "$D/app.key"
chmod 644 "$D/app.key"
out=$(run -o smtp_sasl_auth_enable=yes -o "smtp_sasl_password_maps=hash:$D/sasl_passwd2" --check 2>&1); rc=$?
echo "$out" > "$D/c-check-assert.out"
grep -q "^error: OAuth token store $D/enrol/cert.json: private key file $D/app.key: readable or writable by others" <<<"$out" \
  && ! grep -q "sa.json" <<<"$out" && ! grep -q "refresh token" <<<"$out" \
  && ok "--check: an unsafe certificate key is an error; a good service account store raises nothing" || bad "check assert: $out"
chmod 600 "$D/app.key"

# 5b. --oauth-status --refresh goes through the proxy a delivery to the
# next hop would use (credentials from authrelay_proxy_maps), not direct.
python3 "$(dirname "$0")/../proxy/test_proxy.py" socks5 --user relay --password Pr0xyPassw0rd \
  > "$D/proxy.out" 2> "$D/proxy.log" &
PX=$!
for _ in $(seq 50); do grep -qs '^PORT' "$D/proxy.out" && break; sleep 0.1; done
PXPORT=$(awk '/^PORT/ {print $2}' "$D/proxy.out")
printf '[smtp.office365.com]:587 socks5://relay:Pr0xyPassw0rd@127.0.0.1:%s\n' "$PXPORT" > "$D/proxy_map"
postmap -c "$D/cf" "hash:$D/proxy_map"
store "$D/via-proxy.json" rt-original
out=$(run -o "authrelay_proxy_maps=hash:$D/proxy_map" --nexthop='[smtp.office365.com]:587' \
  --oauth-status "$D/via-proxy.json" --refresh 2>&1); rc=$?
echo "$out" > "$D/c-via-proxy.out"
[ "$rc" = 0 ] && grep -q "access token refreshed" <<<"$out" && grep -q "AUTH user=relay ok" "$D/proxy.log" \
  && grep -q "CONNECT 127.0.0.1:$PORT" "$D/proxy.log" && ! grep -q Pr0xyPassw0rd <<<"$out" \
  && ok "--oauth-status --refresh --nexthop=N: through N's SOCKS5 proxy (with its map credentials)" \
  || bad "refresh via proxy: rc=$rc $out / $(cat "$D/proxy.log")"
store "$D/via-dead-proxy.json" rt-original
out=$(run -o "authrelay_proxy=http://127.0.0.1:1" --oauth-status "$D/via-dead-proxy.json" --refresh 2>&1); rc=$?
echo "$out" > "$D/c-via-dead-proxy.out"
[ "$rc" = 75 ] && ok "--oauth-status --refresh with authrelay_proxy unreachable defers (it does not go direct): $(head -1 <<<"$out")" \
  || bad "dead proxy: rc=$rc $out"
kill "$PX"; wait "$PX" 2>/dev/null

# 6. Nothing secret anywhere we print or log.
if grep -rqE "at-fresh|at-expired|at-app|at-sa-|at-cert-|rt-rotated|rt-original|Pr0xyPassw0rd|rt-enrolled|cs-test-secret|4/code-|PRIVATE KEY|$(sed -n 2p "$D/sa.pem")|$(sed -n 2p "$D/app.key")" "$D"/c*.out "$D"/e-*.out "$D/authrelay.log"; then
  bad "a token or the client secret was printed or logged"
else ok "no token or client secret in any output or log"; fi
if [ -n "${AUTHRELAY_TEST_ARTIFACTS:-}" ]; then
  mkdir -p "$AUTHRELAY_TEST_ARTIFACTS/oauth-$$" "$AUTHRELAY_TEST_ARTIFACTS/secrets"
  cp "$D"/c*.out "$D"/e-*.out "$D/authrelay.log" "$AUTHRELAY_TEST_ARTIFACTS/oauth-$$/"
  printf '%s\n' at-fresh-1 rt-rotated-1 rt-enrolled- cs-test-secret at-sa- at-cert- "$(sed -n 2p "$D/sa.pem")" \
    "$(sed -n 3p "$D/sa.pem")" "$(sed -n 2p "$D/app.key")" "$(sed -n 3p "$D/app.key")" > "$AUTHRELAY_TEST_ARTIFACTS/secrets/oauth-$$"
fi
t_finish
