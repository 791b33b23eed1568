# Shared harness for the end-to-end tests and the demo: a test CA, a network
# namespace in which smtp.gmail.com and friends are 127.0.0.1, a smarthost
# Postfix instance (TLS, Cyrus SASL from sasldb2, delivery into a Maildir)
# and a relay Postfix instance whose transport is authrelay through the
# pipe(8) entry of master.cf.d/master.cf.
#
# Use: source it, set E2E_BIN (the built authrelay) and call e2e_setup.
# Everything lives under $E2E_DIR; e2e_teardown stops both instances and
# removes the namespace. Must run as root (it creates users and a netns).

set -euo pipefail

E2E_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_NS=${E2E_NS:-authrelay-e2e-$$}
E2E_DIR=${E2E_DIR:-}
E2E_USER=authrelay-test
# Test secrets: made up per run, never committed. The checks grep for them.
E2E_PASSWORD="pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')-S3cret"
E2E_GMAIL_PASSWORD="app-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')-pass"
E2E_WRONG_PASSWORD="wrong-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"

ns() { ip netns exec "$E2E_NS" "$@"; }

# Results: ok/bad count checks; check NAME CONDITION evaluates one;
# e2e_finish prints the count line, keeps the directory on failure, and is
# the script's exit status.
passed=0 failed=0
ok() { printf '%s\n' "e2e: ok: $*" >&2; passed=$((passed + 1)); }
bad() { printf '%s\n' "e2e: NOT OK: $*" >&2; failed=$((failed + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
e2e_finish() {
  echo "$passed passed, $failed failed"
  if [ "$failed" = 0 ]; then E2E_KEEP=0; else E2E_KEEP=1; log "kept for inspection: $E2E_DIR"; fi
  [ "$failed" = 0 ]
}
log() { printf '%s\n' "e2e: $*" >&2; }
die() { printf '%s\n' "e2e: FAIL: $*" >&2; exit 1; }

# Names every test host answers to (all 127.0.0.1 inside the namespace).
E2E_HOSTS="smtp.gmail.com smarthost.test plain.test wrongpw.test wrongcert.test noscope.test"

e2e_make_ca() {
  local d=$E2E_DIR/certs
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=authrelay test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  local name san
  for name in server wrong; do
    if [ $name = server ]; then
      san="DNS:smtp.gmail.com,DNS:smarthost.test,DNS:plain.test,DNS:wrongpw.test,DNS:noscope.test,DNS:localhost,IP:127.0.0.1"
    else
      san="DNS:somebody-else.example"
    fi
    openssl req -newkey rsa:2048 -nodes -subj "/CN=${san%%,*}" -keyout "$d/$name.key" \
      -out "$d/$name.csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$d/$name.ext"
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
      -days 2 -extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null
  done
  chmod 644 "$d"/*.pem; chmod 600 "$d"/*.key
}

# The namespace: loopback only, its own /etc/hosts, and its own /etc/ssl
# whose system trust store holds only the test CA (so "no CAfile = system
# store" is tested for real, and nothing outside trusts our CA).
e2e_make_netns() {
  ip netns add "$E2E_NS"
  ip netns exec "$E2E_NS" ip link set lo up
  local etc=/etc/netns/$E2E_NS
  mkdir -p "$etc/ssl/certs" "$etc/ssl/private"
  {
    echo "127.0.0.1 localhost $E2E_HOSTS"
    echo "::1 localhost ip6-localhost"
  } > "$etc/hosts"
  # DNS, when a test needs it, is a dnsmasq on this namespace's loopback.
  echo "nameserver 127.0.0.1" > "$etc/resolv.conf"
  cp /etc/ssl/openssl.cnf "$etc/ssl/openssl.cnf"
  if [ "${E2E_SYSTEM_TRUST:-0}" = 1 ]; then
    # The benchmark: the machine's real trust store (~140 roots, hashed
    # directory and bundle) plus the test CA, so CA loading costs what it
    # costs in production.
    cp -a /etc/ssl/certs/. "$etc/ssl/certs/"
    cat /etc/ssl/certs/ca-certificates.crt "$E2E_DIR/certs/ca.pem" > "$etc/ssl/certs/ca-certificates.crt"
  else
    cp "$E2E_DIR/certs/ca.pem" "$etc/ssl/certs/ca-certificates.crt"
  fi
  cp "$E2E_DIR/certs/ca.pem" "$etc/ssl/certs/authrelay-test-ca.pem"
  ln -sf authrelay-test-ca.pem "$etc/ssl/certs/$(openssl x509 -hash -noout -in "$E2E_DIR/certs/ca.pem").0"
}

# A Postfix instance skeleton in $1 with syslog_name $2.
e2e_postfix_instance() {
  local dir=$1 name=$2
  mkdir -p "$dir/queue" "$dir/data"
  cp /etc/postfix/master.cf "$dir/master.cf"
  cat > "$dir/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
inet_protocols = ipv4
inet_interfaces = 127.0.0.1
mydestination =
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
syslog_name = $name
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
CF
  postconf -c "$dir" -F '*/*/chroot = n'
  postconf -c "$dir" -MX smtp/inet
  chown -R root:root "$dir"
  chown postfix:postfix "$dir/data"
  chmod 755 "$dir"
}

e2e_make_smarthost() {
  local d=$E2E_DIR/smarthost
  e2e_postfix_instance "$d" smarthost
  mkdir -p "$d/sasl" "$d/maildir/new" "$d/maildir/cur" "$d/maildir/tmp"
  chown -R nobody:nogroup "$d/maildir"
  cat > "$d/sasl/smtpd.conf" <<CF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $d/sasldb2
mech_list: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256
CF
  printf '%s' "$E2E_PASSWORD" | saslpasswd2 -p -c -f "$d/sasldb2" -u smarthost.test alice
  printf '%s' "$E2E_GMAIL_PASSWORD" | saslpasswd2 -p -c -f "$d/sasldb2" -u gmail.com relayuser
  chgrp postfix "$d/sasldb2"; chmod 640 "$d/sasldb2"
  printf 'reject@rcpt.test 550 5.1.1 no such user here\n' \
    > "$d/rcpt_access"
  postconf -c "$d" -e \
    "myhostname = smarthost.test" \
    "mynetworks = 127.0.0.0/8" \
    "virtual_mailbox_domains = static:all" \
    "virtual_mailbox_maps = static:maildir/" \
    "virtual_mailbox_base = $d" \
    "virtual_uid_maps = static:65534" "virtual_gid_maps = static:65534" \
    "local_header_rewrite_clients =" \
    "smtpd_sasl_type = cyrus" "smtpd_sasl_path = smtpd" \
    "cyrus_sasl_config_path = $d/sasl" \
    "smtpd_sasl_security_options = noanonymous" "smtpd_tls_loglevel = 1" \
    "smtpd_tls_cert_file = $E2E_DIR/certs/server.pem" \
    "smtpd_tls_key_file = $E2E_DIR/certs/server.key" \
    "smtpd_relay_restrictions = permit_mynetworks, reject" \
    "smtpd_recipient_restrictions = check_recipient_access texthash:$d/rcpt_access"
  local auth="-o smtpd_sasl_auth_enable=yes -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
  # 25: plain relay, no AUTH (recipe case 1).
  postconf -c "$d" -M "127.0.0.1:25/inet = 127.0.0.1:25 inet n - n - - smtpd -o syslog_name=smarthost/plain -o smtpd_tls_security_level=none"
  # 587: STARTTLS required before AUTH, AUTH required to relay.
  postconf -c "$d" -M "127.0.0.1:587/inet = 127.0.0.1:587 inet n - n - - smtpd -o syslog_name=smarthost/submission -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes $auth"
  # 465: implicit TLS.
  postconf -c "$d" -M "127.0.0.1:465/inet = 127.0.0.1:465 inet n - n - - smtpd -o syslog_name=smarthost/smtps -o smtpd_tls_wrappermode=yes $auth"
  # 2525: AUTH offered in the clear (negative tests).
  postconf -c "$d" -M "127.0.0.1:2525/inet = 127.0.0.1:2525 inet n - n - - smtpd -o syslog_name=smarthost/cleartext -o smtpd_tls_security_level=none -o smtpd_tls_auth_only=no $auth"
  # 10587: STARTTLS with a certificate for another name.
  postconf -c "$d" -M "127.0.0.1:10587/inet = 127.0.0.1:10587 inet n - n - - smtpd -o syslog_name=smarthost/wrongcert -o smtpd_tls_security_level=may -o smtpd_tls_auth_only=yes -o smtpd_tls_cert_file=$E2E_DIR/certs/wrong.pem -o smtpd_tls_key_file=$E2E_DIR/certs/wrong.key $auth"
}

e2e_make_user() {
  if ! getent passwd "$E2E_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$E2E_USER"
  fi
}

e2e_make_relay() {
  local d=$E2E_DIR/relay
  e2e_postfix_instance "$d" relay
  mkdir -p "$d/bin" "$d/log" "$d/cache"
  # Both programs, side by side as installed (authrelay-reuse execs
  # authrelay from its own directory); master.cf runs E2E_BIN's.
  local built
  built=$(dirname "$(readlink -f "$E2E_BIN")")
  install -m 755 "$built/authrelay" "$built/authrelay-reuse" "$d/bin/"
  E2E_PROGRAM=$d/bin/$(basename "$E2E_BIN")
  chown "$E2E_USER:$E2E_USER" "$d/log" "$d/cache"
  chmod 700 "$d/cache"
  # The master.cf entry exactly as shipped, with the test binary and user.
  sed -e "s#/usr/libexec/authrelay/authrelay#$E2E_PROGRAM#" -e "s#user=authrelay#user=$E2E_USER#" \
    "$E2E_SRC/master.cf.d/master.cf" | grep -v '^#' >> "$d/master.cf"
  # A second entry that differs only by -o, as admins do per destination.
  sed -e "s#/usr/libexec/authrelay/authrelay#$E2E_PROGRAM -o smtp_sasl_password_maps=hash:$d/no_such_map#" \
    -e "s#user=authrelay#user=$E2E_USER#" -e "s#^authrelay #authrelay-nomap #" \
    "$E2E_SRC/master.cf.d/master.cf" | grep -v '^#' >> "$d/master.cf"
  grep -v '^#' "$E2E_SRC/master.cf.d/common.main.cf" | grep . >> "$d/main.cf"
  postconf -c "$d" -e "myhostname = relay.test" "authrelay_time_limit = 60s" \
    "authrelay_log_file = $d/log/authrelay.log" "authrelay_tls_session_cache = $d/cache/tls_session_cache" \
    "transport_maps = texthash:$d/transport" "authrelay-nomap_destination_recipient_limit = 1"
  cat > "$d/transport" <<T
wrongpw.test     authrelay:[wrongpw.test]:587
down.test        authrelay:[smarthost.test]:2600
wrongcert.test   authrelay:[wrongcert.test]:10587
nomap.test       authrelay-nomap:[smarthost.test]:587
implicit.test    authrelay:[smarthost.test]:465
rcpt.test        authrelay:[smarthost.test]:587
T
  # Credentials, as the recipe makes them: postmap'd, readable by the pipe user.
  cat > "$d/sasl_passwd" <<P
[smtp.gmail.com]:587     relayuser@gmail.com:$E2E_GMAIL_PASSWORD
[smarthost.test]:587     alice@smarthost.test:$E2E_PASSWORD
[smarthost.test]:465     alice@smarthost.test:$E2E_PASSWORD
[wrongpw.test]:587       alice@smarthost.test:$E2E_WRONG_PASSWORD
[wrongcert.test]:10587   alice@smarthost.test:$E2E_PASSWORD
P
  chgrp "$E2E_USER" "$d/sasl_passwd"; chmod 640 "$d/sasl_passwd"
  postmap -c "$d" "hash:$d/sasl_passwd"
  cp -p "$d/sasl_passwd" "$d/relay_password"
  postmap -c "$d" "hash:$d/relay_password"
  cp "$E2E_DIR/certs/ca.pem" "$d/ca-bundle.crt"
}

e2e_setup() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -x "${E2E_BIN:-}" ] || die "E2E_BIN must name the built authrelay"
  if [ -z "$E2E_DIR" ]; then E2E_DIR=$(mktemp -d /tmp/authrelay-e2e.XXXXXX); fi
  chmod 755 "$E2E_DIR"
  e2e_make_ca
  e2e_make_netns
  e2e_make_user
  e2e_make_smarthost
  e2e_make_relay
  ns postfix -c "$E2E_DIR/smarthost" start 2>>"$E2E_DIR/postfix-start.log"
  ns postfix -c "$E2E_DIR/relay" start 2>>"$E2E_DIR/postfix-start.log"
  sleep 1
}

# Keeps every log and output of this run, and its secrets, for the
# suite-wide secret check (tests/check_secrets.sh).
e2e_collect() {
  local dest=${AUTHRELAY_TEST_ARTIFACTS:-}
  [ -n "$dest" ] && [ -n "$E2E_DIR" ] && [ -d "$E2E_DIR" ] || return 0
  local d="$dest/$(basename "$0" .sh)-$$"
  mkdir -p "$d" "$dest/secrets"
  cp -r "$E2E_DIR/relay/maillog" "$E2E_DIR/relay/log" "$d/" 2>/dev/null
  mkdir -p "$d/smarthost"; cp -r "$E2E_DIR/smarthost/maillog" "$E2E_DIR/smarthost/maildir" "$d/smarthost/" 2>/dev/null
  find "$E2E_DIR" -maxdepth 1 -type f \( -name '*.out' -o -name '*.err' -o -name '*.txt' -o -name '*.log' \) -exec cp {} "$d/" \; 2>/dev/null
  printf '%s\n' "$E2E_PASSWORD" "$E2E_GMAIL_PASSWORD" "$E2E_WRONG_PASSWORD" > "$dest/secrets/$(basename "$d")"
}

e2e_teardown() {
  set +e
  e2e_collect
  if [ -n "$E2E_DIR" ]; then
    ns postfix -c "$E2E_DIR/relay" stop >/dev/null 2>&1
    ns postfix -c "$E2E_DIR/smarthost" stop >/dev/null 2>&1
  fi
  ip netns del "$E2E_NS" 2>/dev/null
  rm -rf "/etc/netns/$E2E_NS"
  if [ "${E2E_KEEP:-1}" = 0 ] && [ -n "$E2E_DIR" ]; then rm -rf "$E2E_DIR"; fi
}

# Applies main.cf lines to the relay and reloads it.
e2e_relay_conf() {
  local d=$E2E_DIR/relay line
  for line in "$@"; do postconf -c "$d" -e "$line"; done
  ns postfix -c "$d" reload >/dev/null 2>&1
  sleep 1
}

# e2e_send FROM TO FILE: inject through the relay's sendmail.
e2e_send() {
  ns sendmail -i -C "$E2E_DIR/relay" -f "$1" "$2" < "$3"
}

# Waits until a Maildir file contains the string $1; prints its path.
e2e_wait_maildir() {
  local needle=$1 timeout=${2:-30} i f
  for ((i = 0; i < timeout * 4; i++)); do
    f=$(grep -l -F -- "$needle" "$E2E_DIR"/smarthost/maildir/new/* 2>/dev/null | head -1 || true)
    if [ -n "$f" ]; then echo "$f"; return 0; fi
    sleep 0.25
  done
  return 1
}

# Waits until the relay's mail log has a line matching the ERE $1; prints it.
e2e_wait_log() {
  local pattern=$1 timeout=${2:-30} i line
  for ((i = 0; i < timeout * 4; i++)); do
    line=$(grep -E -- "$pattern" "$E2E_DIR/relay/maillog" 2>/dev/null | head -1 || true)
    if [ -n "$line" ]; then echo "$line"; return 0; fi
    sleep 0.25
  done
  return 1
}
