# Shared set-up for the shell tests outside tests/e2e (contract, credmap,
# oauth, share), as tests/e2e/lib.sh is for the end-to-end tests: result
# counting, a scratch directory, a helper server waited for, a network
# namespace, test certificates and secrets. Source it; it defines functions
# and the counters and runs nothing else:
#
#   . "$(dirname "$0")/../lib/harness.sh"
#
# Each script keeps its own cleanup trap (what it started, what it keeps).

# Results. T_PREFIX starts every result line ("share: "); T_FD is where
# they go (1, or 2 for scripts whose stdout is data). check NAME CONDITION
# evaluates CONDITION. t_finish prints the count and is the exit status.
passed=0 failed=0
T_PREFIX=${T_PREFIX:-} T_FD=${T_FD:-1}
ok() { echo "${T_PREFIX}ok: $*" >&"$T_FD"; passed=$((passed + 1)); }
bad() { echo "${T_PREFIX}NOT OK: $*" >&"$T_FD"; failed=$((failed + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
t_finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}

# A new scratch directory /tmp/authrelay-NAME.XXXXXX (its path on stdout).
t_scratch() { mktemp -d "/tmp/authrelay-$1.XXXXXX"; }

# 12 random hex digits, for made-up test secrets (never committed).
t_random_hex() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }

# Records a test secret for tests/check_secrets.sh, which greps every kept
# output for it: t_keep_secret NAME VALUE... (one a line).
t_keep_secret() {
  local name=$1; shift
  [ -n "${AUTHRELAY_TEST_ARTIFACTS:-}" ] || return 0
  mkdir -p "$AUTHRELAY_TEST_ARTIFACTS/secrets"
  printf '%s\n' "$@" > "$AUTHRELAY_TEST_ARTIFACTS/secrets/$name"
}

# t_serve OUT CMD...: starts a helper server in the background with its
# output in OUT and waits (5 s at most) for it to print "ready"; its pid
# is then in T_SERVER_PID. Says so and returns 1 if it never did, so the
# failures that follow are not the first clue.
t_serve() {
  local out=$1; shift
  "$@" > "$out" 2>&1 &
  T_SERVER_PID=$!
  for _ in $(seq 50); do grep -q ready "$out" 2>/dev/null && return 0; sleep 0.1; done
  echo "${T_PREFIX}helper server $1 did not print ready within 5 s: $(tail -3 "$out" 2>/dev/null | tr '\n' ' ')" >&"$T_FD"
  return 1
}

# Stops a helper server started here (nothing if the pid is empty).
t_stop() {
  [ -n "${1:-}" ] || return 0
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

# A network namespace NS with loopback up, in which every name given is
# 127.0.0.1 (/etc/netns/NS/hosts); ns CMD... runs a command in it.
# t_netns_remove kills what still runs there and removes it (root only).
t_netns() {
  T_NS=$1; shift
  ip netns add "$T_NS"
  ip netns exec "$T_NS" ip link set lo up
  mkdir -p "/etc/netns/$T_NS"
  echo "127.0.0.1 localhost $*" > "/etc/netns/$T_NS/hosts"
}
ns() { ip netns exec "$T_NS" "$@"; }
t_netns_remove() {
  local p
  [ -n "${T_NS:-}" ] || return 0  # never made: nothing to remove (and never /etc/netns itself)
  for p in $(ip netns pids "$T_NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$T_NS" 2>/dev/null || true
  rm -rf "/etc/netns/$T_NS"
}

# The protocol tests' CA and server certificates (tests/protocol/make-certs.sh)
# in DIR, readable by the unprivileged users the tests run authrelay as.
t_certs() {
  bash "$(dirname "${BASH_SOURCE[0]}")/../protocol/make-certs.sh" "$1" >/dev/null
  chmod 644 "$1"/*.pem
}

# main.cf in CF_DIR for deliveries that authenticate with the credentials in
# CF_DIR/sasl_passwd (texthash) over TLS whose server CA is CA, logging to
# LOG: t_sasl_main_cf CF_DIR CA LOG.
t_sasl_main_cf() {
  cat > "$1/main.cf" <<CF
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:$1/sasl_passwd
smtp_sasl_security_options = noanonymous
smtp_tls_security_level = encrypt
smtp_tls_CAfile = $2
authrelay_log_file = $3
CF
}
