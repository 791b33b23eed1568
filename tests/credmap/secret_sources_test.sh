#!/bin/bash
# Passwords that do not sit in the credentials map, through the real binary
# and a local STARTTLS + AUTH PLAIN server (tests/credmap/auth_server.py):
#  - user:file:/path: the password is read from the file at each delivery
#    (a changed file is used by the next delivery without anything else);
#  - a password file that is a symlink, group-readable or missing defers
#    4.3.5 naming the fix, and no mail goes out without AUTH;
#  - ACCESS_KEY_ID:ses-key:REGION:/path: the SMTP password derived from the
#    IAM secret access key equals the one this script derives itself
#    (Python hmac/hashlib, AWS's documented steps), for several keys and
#    regions: the server accepts only the Python-derived password;
#  - --lookup and --check name the source and never print the password.
#   secret_sources_test.sh AUTHRELAY CERT_DIR
set -uo pipefail
BIN=$1 CERTS=$2
. "$(dirname "$0")/../lib/harness.sh"
D=$(t_scratch secrets)
PORT=$((24000 + RANDOM % 1000))
cleanup() {
  t_stop "${SRV:-}"
  if [ -n "${AUTHRELAY_TEST_ARTIFACTS:-}" ]; then
    mkdir -p "$AUTHRELAY_TEST_ARTIFACTS/secret-sources-$$"
    cp "$D"/*.log "$D"/*.out "$AUTHRELAY_TEST_ARTIFACTS/secret-sources-$$/" 2>/dev/null
  fi
  rm -rf "$D"
}
trap cleanup EXIT

# AWS's documented derivation (SES developer guide, "Obtaining Amazon SES
# SMTP credentials", the Python example), written here independently of the
# C++ code under test.
ses_password() {  # SECRET_KEY REGION
  python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, sys
def sign(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()
secret, region = sys.argv[1], sys.argv[2]
signature = sign(("AWS4" + secret).encode("utf-8"), "11111111")
signature = sign(signature, region)
signature = sign(signature, "ses")
signature = sign(signature, "aws4_request")
signature = sign(signature, "SendRawEmail")
print(base64.b64encode(bytes([0x04]) + signature).decode("utf-8"))
PY
}

# The test secrets: one password, three SES keys (AWS's documentation
# example key among them). Made here, never committed.
FILE_PW="pw-from-file-$RANDOM$RANDOM"
KEYS=("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" "$(head -c 30 /dev/urandom | base64 | tr -d '\n')" \
      "$(head -c 30 /dev/urandom | base64 | tr -d '\n')")
REGIONS=(us-east-1 eu-west-2 ap-southeast-2)
printf '%s\n' "$FILE_PW" > "$D/secrets.list"
for k in "${KEYS[@]}"; do printf '%s\n' "$k" >> "$D/secrets.list"; done
users="{\"filer@example.com\": \"$FILE_PW\""
for i in 0 1 2; do
  derived=$(ses_password "${KEYS[$i]}" "${REGIONS[$i]}")
  printf '%s\n' "$derived" >> "$D/secrets.list"
  users+=", \"AKIAEXAMPLE$i\": \"$derived\""
done
echo "$users}" > "$D/users.json"
# check_secrets.sh greps every kept output for these.
if [ -n "${AUTHRELAY_TEST_ARTIFACTS:-}" ]; then
  mkdir -p "$AUTHRELAY_TEST_ARTIFACTS/secrets"; cp "$D/secrets.list" "$AUTHRELAY_TEST_ARTIFACTS/secrets/secret-sources-$$"
fi

t_serve "$D/server.out" python3 "$(dirname "$0")/auth_server.py" "$PORT" "$CERTS/server.pem" "$CERTS/server.key" \
  "$D/users.json" "$D/server.log"
SRV=$T_SERVER_PID

mkdir -p "$D/cf"
printf '%s\n' "$FILE_PW" > "$D/password"; chmod 600 "$D/password"
for i in 0 1 2; do printf '%s\n' "${KEYS[$i]}" > "$D/ses$i.key"; chmod 600 "$D/ses$i.key"; done
map() {  # NAME VALUE: a one-line map for the test server's next hop
  printf '[127.0.0.1]:%s %s\n' "$PORT" "$2" > "$D/cf/$1"; chmod 600 "$D/cf/$1"
}
map sasl_passwd "filer@example.com:file:$D/password"
t_sasl_main_cf "$D/cf" "$CERTS/ca.pem" "$D/authrelay.log"
# Deliveries run as pipe(8) runs them: as an unprivileged user, who owns
# the secret files.
RUNAS=nobody
own() { chown -R "$RUNAS:nogroup" "$D"; }
deliver() {  # NEXTHOP [more options]
  local hop=$1; shift
  own
  printf 'Subject: t\r\n\r\nbody\r\n' | setpriv --reuid="$RUNAS" --regid=nogroup --clear-groups \
    "$BIN" -c "$D/cf" "$@" --nexthop="$hop" --sender=s@example.com --queue-id=T1 -- r@example.net
}

# 1. A password from a file.
: > "$D/server.log"
out=$(deliver "[127.0.0.1]:$PORT" 2>&1); rc=$?
[ "$rc" = 0 ] && grep -qx "auth ok filer@example.com" "$D/server.log" && grep -qx delivered "$D/server.log" \
  && ok "user:file:/path: the password read from the file, accepted, delivered" || bad "file: rc=$rc $out $(cat "$D/server.log")"
echo "$out" > "$D/file-delivery.out"

# 2. The file is read at each delivery: a rotated password is used next time.
printf 'rotated-wrong\n' > "$D/password"
: > "$D/server.log"
out=$(deliver "[127.0.0.1]:$PORT" 2>&1); rc=$?
grep -qx "auth refused filer@example.com" "$D/server.log" && ! grep -q delivered "$D/server.log" \
  && ok "the file is read at each delivery (a changed password is sent next time)" || bad "reread: rc=$rc $out"
printf '%s\n' "$FILE_PW" > "$D/password"

# 3. Unsafe or missing files: deferred 4.3.5 with the fix, no AUTH-less mail.
for kind in symlink group missing; do
  rm -f "$D/pw2"
  case $kind in
    symlink) ln -s "$D/password" "$D/pw2"; want="symbolic link" ;;
    group) printf 'x\n' > "$D/pw2"; chmod 640 "$D/pw2"; want="chmod 600 it" ;;
    missing) want="cannot open" ;;
  esac
  : > "$D/server.log"
  map "bad-$kind" "u:file:$D/pw2"
  out=$(deliver "[127.0.0.1]:$PORT" -o "smtp_sasl_password_maps=texthash:$D/cf/bad-$kind" 2>&1); rc=$?
  echo "$out" > "$D/bad-$kind.out"
  [ "$rc" = 75 ] && grep -q "^4.3.5 " <<<"$out" && grep -q "password file $D/pw2.*$want" "$D/authrelay.log" "$D/bad-$kind.out" \
    && ! grep -q delivered "$D/server.log" && ! grep -q "auth ok" "$D/server.log" \
    && ok "password file $kind: deferred 4.3.5 naming the fix ($want); nothing sent" \
    || bad "password file $kind: rc=$rc $out | $(tail -2 "$D/authrelay.log")"
done

# 4. SES: the password derived from the secret key, for three keys and
# regions; the server knows only the Python-derived passwords.
for i in 0 1 2; do
  map "ses$i" "AKIAEXAMPLE$i:ses-key:${REGIONS[$i]}:$D/ses$i.key"
  : > "$D/server.log"
  out=$(deliver "[127.0.0.1]:$PORT" -o "smtp_sasl_password_maps=texthash:$D/cf/ses$i" 2>&1); rc=$?
  echo "$out" > "$D/ses$i.out"
  [ "$rc" = 0 ] && grep -qx "auth ok AKIAEXAMPLE$i" "$D/server.log" && grep -qx delivered "$D/server.log" \
    && ok "SES key $i, region ${REGIONS[$i]}: derived password equals Python's (server accepted), delivered" \
    || bad "SES $i: rc=$rc $out $(cat "$D/server.log")"
done
# The same key for another region is another password: refused.
map ses-wrong-region "AKIAEXAMPLE0:ses-key:eu-west-1:$D/ses0.key"
: > "$D/server.log"
out=$(deliver "[127.0.0.1]:$PORT" -o "smtp_sasl_password_maps=texthash:$D/cf/ses-wrong-region" 2>&1); rc=$?
grep -qx "auth refused AKIAEXAMPLE0" "$D/server.log" && [ "$rc" != 0 ] \
  && ok "the region is part of the derivation (us-east-1 key used for eu-west-1: refused)" || bad "region: rc=$rc $out"
map ses-bad-region "AKIAEXAMPLE0:ses-key:Mars_1:$D/ses0.key"
out=$(deliver "[127.0.0.1]:$PORT" -o "smtp_sasl_password_maps=texthash:$D/cf/ses-bad-region" 2>&1); rc=$?
[ "$rc" = 75 ] && grep -q "not an AWS region" "$D/authrelay.log" \
  && ok "a malformed region defers 4.3.5 with the form to write" || bad "bad region: rc=$rc $out"

# 5. --lookup and --check name the source, show only fingerprints.
python3 - "$FILE_PW" "$(ses_password "${KEYS[1]}" "${REGIONS[1]}")" > "$D/fingerprints" <<'PY'
import hashlib, sys
for s in sys.argv[1:]:
    print(f"len={len(s)} sha256:{hashlib.sha256(s.encode()).hexdigest()[:8]}")
PY
out=$("$BIN" -c "$D/cf" --lookup "[127.0.0.1]:$PORT" 2>&1); echo "$out" > "$D/lookup-file.out"
grep -q "password from file $D/password <hidden, $(sed -n 1p "$D/fingerprints")>" <<<"$out" \
  && ok "--lookup: password from file, fingerprint of the file's password" || bad "lookup file: $out"
out=$("$BIN" -c "$D/cf" -o "smtp_sasl_password_maps=texthash:$D/cf/ses1" --lookup "[127.0.0.1]:$PORT" 2>&1)
echo "$out" > "$D/lookup-ses.out"
grep -q "password from SES key file $D/ses1.key (region ${REGIONS[1]}) <hidden, $(sed -n 2p "$D/fingerprints")>" <<<"$out" \
  && ok "--lookup: SES source and the fingerprint of the Python-derived password" || bad "lookup ses: $out"
chmod 644 "$D/password"
out=$("$BIN" -c "$D/cf" --lookup "[127.0.0.1]:$PORT" --json 2>/dev/null); echo "$out" > "$D/lookup-json.out"
python3 -c "import json,sys; j=json.loads(sys.argv[1])['lookups'][0]; assert 'chmod 600' in j['password_error'], j; assert j['password_source']=='file $D/password'" "$out" \
  && ok "--lookup --json: the unusable file's reason" || bad "lookup json: $out"
out=$("$BIN" -c "$D/cf" --check --nexthop="[127.0.0.1]:$PORT" 2>&1); echo "$out" > "$D/check.out"
grep -q "^error: password file $D/password: readable or writable by others: deliveries that use it would defer" <<<"$out" \
  && grep -q "fix: chmod 600 it" <<<"$out" && ok "--check: an unsafe password file is an error with its fix" || bad "check: $out"
chmod 600 "$D/password"
out=$("$BIN" -c "$D/cf" --check --nexthop="[127.0.0.1]:$PORT" 2>&1)
! grep -q "password file" <<<"$out" && ok "--check: a good password file passes" || bad "check good: $out"

# 6. No secret anywhere we printed or logged.
leaks=0
while read -r secret; do
  grep -rqF -- "$secret" "$D"/*.out "$D/authrelay.log" && { leaks=1; bad "a test secret appears in the output"; }
done < "$D/secrets.list"
[ "$leaks" = 0 ] && ok "no password, SES key or derived password in any output or log"

t_finish
