# Set-up the connection-sharing tests (tests/share) share, on top of
# harness.sh: the recording SMTP server in the namespace, a config
# directory per pipe user, the credentials map, one delivery as a pipe user.
# The caller sets T (scratch directory, with certs/ made by t_certs), HERE
# (tests/share), BIN and PASSWORD, and has called t_netns.

# start_server NAME [server options]: (re)starts tests/share/smtp_server.py
# recording into EV=$T/NAME.events; sets SERVER_PID and PORT.
SERVER_PID=
start_server() {
  local name=$1; shift
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  EV=$T/$name.events
  : > "$EV"
  rm -f "$T/port"
  ns python3 "$HERE/smtp_server.py" "$T/port" "$EV" "$T/certs/server.pem" "$T/certs/server.key" \
    relay@mx.test "$PASSWORD" "$@" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
  if [ ! -s "$T/port" ]; then
    echo "${T_PREFIX}the recording server ($name) wrote no port within 5 s" >&2
    return 1
  fi
  PORT=$(cat "$T/port")
}
# How many events of a kind the server recorded: count EVENT.
count() { grep -c "\"event\": \"$1\"" "$EV" || true; }

# A config directory per pipe user, sharing on: config USER DIR [more
# main.cf lines...]
config() {
  local user=$1 dir=$2; shift 2
  mkdir -p "$dir"
  cat > "$dir/main.cf" <<CF
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:$dir/sasl_passwd
smtp_sasl_security_options = noanonymous
smtp_sasl_mechanism_filter = plain
smtp_tls_security_level = secure
smtp_tls_CAfile = $T/certs/ca.pem
authrelay_tls_session_cache =
authrelay_connection_reuse = yes
authrelay_connection_reuse_directory = $dir/share
smtp_connection_cache_time_limit = 20s
authrelay_log_file = $dir/log
CF
  for line in "$@"; do echo "$line" >> "$dir/main.cf"; done
  : > "$dir/log"
  chown "$user" "$dir/log"
  chown "$user" "$dir"
}
# The credentials for the server's next hop: write_map DIR FILE.
write_map() {
  echo "[mx.test]:$PORT relay@mx.test:$PASSWORD" > "$1/$2"
  chmod 644 "$1/$2"
}

# deliver USER CONFDIR [authrelay options...]: one message, run as
# pipe(8) runs it; sets RC, OUT, SECS (wall time until stdout closed and
# the process exited).
N=0
deliver() {
  local user=$1 dir=$2; shift 2
  N=$((N + 1))
  local t0 t1
  t0=$(date +%s.%N)
  set +e
  OUT=$(printf 'Subject: share test %s\n\nmessage %s\n' "$N" "$N" |
        ns setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
          env -i PATH=/usr/bin:/bin MAIL_CONFIG="$dir" "$BIN" --nexthop="[mx.test]:$PORT" \
          --sender=s@example.org "$@" -- "r$N@example.com")
  RC=$?
  set -e
  t1=$(date +%s.%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# The opening the sharing tests share: share_setup NAME sets T (a scratch
# directory, kept only when a check failed), NS (a namespace where mx.test
# is 127.0.0.1), the test certificates in $T/certs, a made-up PASSWORD
# recorded for the secret check, and the EXIT trap that undoes it all.
share_setup() {
  local name=$1
  T=$(t_scratch "$name")
  chmod 755 "$T"
  NS=authrelay-$name-$$
  SHARE_NAME=$name
  trap share_cleanup EXIT
  t_netns "$NS" mx.test
  t_certs "$T/certs"
  PASSWORD="share-$(t_random_hex)-secret"
  t_keep_secret "$name" "$PASSWORD"
}
share_cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  t_netns_remove
  if [ "$failed" = 0 ]; then rm -rf "$T"; else echo "$SHARE_NAME: kept $T" >&2; fi
}
# A command as the nobody user in the test's namespace.
as_nobody() { ns setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
