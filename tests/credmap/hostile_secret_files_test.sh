#!/bin/bash
# A hostile or careless configuration around password files, through the
# real binary run as pipe(8) runs it (an unprivileged user) against a local
# STARTTLS + AUTH PLAIN server (auth_server.py). Every case must defer
# (exit 75, one status line 4.3.5/4.7.x), send no AUTH with a wrong
# password and no mail, and print no secret:
#   a FIFO, /dev/zero, a directory, a hard link to another user's file, a
#   file over the size limit, a symlink in the last component, a root-owned
#   file (and --check run as root must call that an error too), a
#   malformed ses-key value (no region, a relative path), file: with a
#   relative path.
#   hostile_secret_files_test.sh AUTHRELAY CERT_DIR
set -uo pipefail
BIN=$1 CERTS=$2
. "$(dirname "$0")/../lib/harness.sh"
D=$(t_scratch hostile-files)
PORT=$((27000 + RANDOM % 1000))
cleanup() { t_stop "${SRV:-}"; rm -rf "$D"; }
trap cleanup EXIT

RUNAS=nobody
PW="hostile-pw-$RANDOM$RANDOM$RANDOM"
echo "{\"u\": \"$PW\"}" > "$D/users.json"
t_serve "$D/server.out" python3 "$(dirname "$0")/auth_server.py" "$PORT" "$CERTS/server.pem" "$CERTS/server.key" \
  "$D/users.json" "$D/server.log"
SRV=$T_SERVER_PID

mkdir -p "$D/cf" "$D/s"
t_sasl_main_cf "$D/cf" "$CERTS/ca.pem" "$D/authrelay.log"
chown -R "$RUNAS:nogroup" "$D"
chown root:root "$D/s"; chmod 755 "$D/s"   # the secret files' directory: not the pipe user's to change
deliver() {  # MAP_VALUE
  printf '[127.0.0.1]:%s %s\n' "$PORT" "$1" > "$D/cf/sasl_passwd"
  chown "$RUNAS:nogroup" "$D/cf/sasl_passwd" "$D/authrelay.log" 2>/dev/null
  : > "$D/server.log"
  printf 'Subject: t\r\n\r\nbody\r\n' | setpriv --reuid="$RUNAS" --regid=nogroup --clear-groups \
    timeout 30 "$BIN" -c "$D/cf" --nexthop="[127.0.0.1]:$PORT" --sender=s@example.com --queue-id=H1 -- r@example.net
}
expect_defer() {  # NAME MAP_VALUE WANT(regex in the status line or log)
  local out rc
  out=$(deliver "$2" 2>&1); rc=$?
  echo "$out" >> "$D/all.out"
  if [ "$rc" = 75 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -Eq '^4\.(3|7)\.[0-9]+ ' <<<"$out" \
      && grep -Eq -- "$3" <<<"$out$(tail -3 "$D/authrelay.log")" \
      && ! grep -Eq "auth (ok|refused)|delivered" "$D/server.log"; then
    ok "$1: deferred ($out)"
  else
    bad "$1: rc=$rc out=[$out] server=[$(tr '\n' ' ' < "$D/server.log")] log=[$(tail -2 "$D/authrelay.log")]"
  fi
}

# The good case first, so the failures below mean something.
printf '%s\n' "$PW" > "$D/s/pw"; chown "$RUNAS" "$D/s/pw"; chmod 600 "$D/s/pw"
out=$(deliver "u:file:$D/s/pw" 2>&1); rc=$?
[ "$rc" = 0 ] && grep -qx "auth ok u" "$D/server.log" && ok "a good password file delivers" || bad "good: rc=$rc $out"

mkfifo "$D/s/fifo"; chown "$RUNAS" "$D/s/fifo"; chmod 600 "$D/s/fifo"
expect_defer "a FIFO" "u:file:$D/s/fifo" "not a regular file"
expect_defer "/dev/zero" "u:file:/dev/zero" "not a regular file|owned by uid"
mkdir "$D/s/dir"; chown "$RUNAS" "$D/s/dir"; chmod 700 "$D/s/dir"
expect_defer "a directory" "u:file:$D/s/dir" "not a regular file"
# Another user's private file, hard-linked where the map points: the
# link is that user's file, not the pipe user's.
printf 'someone-elses-secret\n' > "$D/s/other"; chown daemon "$D/s/other"; chmod 600 "$D/s/other"
ln "$D/s/other" "$D/s/hardlink"
expect_defer "a hard link to another user's file" "u:file:$D/s/hardlink" "cannot open: Permission denied|owned by uid"
ln -s "$D/s/pw" "$D/s/link"
expect_defer "a symlink" "u:file:$D/s/link" "symbolic link"
head -c 70000 /dev/zero | tr '\0' 'x' > "$D/s/huge"; chown "$RUNAS" "$D/s/huge"; chmod 600 "$D/s/huge"
expect_defer "a file over 64 KiB" "u:file:$D/s/huge" "larger than"
printf '%s\n' "$PW" > "$D/s/rootpw"; chmod 600 "$D/s/rootpw"
expect_defer "a root-owned file" "u:file:$D/s/rootpw" "cannot open|owned by"
# Malformed sources are not passwords to send.
printf 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' > "$D/s/ses"; chown "$RUNAS" "$D/s/ses"; chmod 600 "$D/s/ses"
expect_defer "ses-key without a region" "AKIAX:ses-key:$D/s/ses" "ses-key"
expect_defer "ses-key with a relative path" "AKIAX:ses-key:us-east-1:s/ses" "ses-key"
expect_defer "ses-key with a bad region" "AKIAX:ses-key:US_EAST:$D/s/ses" "not an AWS region"

# --check as root judges files as the pipe user will: root's file is an error.
printf '[127.0.0.1]:%s u:file:%s\n' "$PORT" "$D/s/rootpw" > "$D/cf/sasl_passwd"
out=$("$BIN" -c "$D/cf" --check --nexthop="[127.0.0.1]:$PORT" 2>&1)
echo "$out" >> "$D/all.out"
grep -q "^error: password file $D/s/rootpw: owned by root" <<<"$out" \
  && ok "--check as root: a root-owned password file is an error" || bad "--check root-owned: $out"
out=$("$BIN" -c "$D/cf" --lookup "[127.0.0.1]:$PORT" 2>&1)
echo "$out" >> "$D/all.out"
grep -q "UNUSABLE: password file $D/s/rootpw .*: owned by root, and deliveries never run as root" <<<"$out" \
  && ok "--lookup as root: a root-owned password file is unusable" || bad "--lookup root-owned: $out"

# A store (its owner may write it) cannot forge lines of --oauth-status.
printf '{"token_endpoint":"https://a.example/t","client_id":"c","grant_type":"jwt_bearer","key_file":"/k\\nFORGED: yes","subject":"s","certificate":"/c\\nFORGED: cert","private_key_file":"/p\\nFORGED: key"}' \
  > "$D/store.json"; chmod 600 "$D/store.json"; chown root "$D/store.json"
out=$("$BIN" -c "$D/cf" --oauth-status "$D/store.json" 2>&1)
echo "$out" >> "$D/all.out"
grep -q "key file /k?FORGED: yes" <<<"$out" && ! grep -q "^FORGED" <<<"$out" \
  && ok "--oauth-status: a line end in a store's path is shown as ?, not a new line" || bad "--oauth-status forged: $out"

# No secret in anything printed or logged.
if grep -rqF -e "$PW" -e "someone-elses-secret" -e "wJalrXUtnFEMI" "$D/all.out" "$D/authrelay.log"; then
  bad "a secret appears in the output or the log"
else
  ok "no secret in any output or the log"
fi
t_finish
