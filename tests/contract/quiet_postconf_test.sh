#!/bin/bash
# authrelay beside Postfix without noise: a configuration that uses every
# authrelay_* setting the documentation names must leave postconf silent.
# Postfix's own per-transport names (authrelay_time_limit,
# authrelay_destination_*) go to main.cf, authrelay's own to authrelay.cf;
# the real postconf is the oracle for which is which (postconf -d knows a
# name or it does not). Then: authrelay reads its own names from
# authrelay.cf; the old place (main.cf) still works, makes postconf warn,
# and --check says how to move them; a Postfix name in authrelay.cf is one
# clear configuration error.
# Usage: quiet_postconf_test.sh PATH/TO/authrelay SOURCE_DIR
set -uo pipefail
BIN=$(readlink -f "$1")
SRC=$(readlink -f "$2")
. "$SRC/tests/lib/harness.sh"
D=$(t_scratch quiet)
trap 'rm -rf "$D"' EXIT

# Every authrelay_* name the documentation and shipped examples mention.
mapfile -t names < <(grep -oh 'authrelay_[a-z][a-z0-9_]*' "$SRC/README.md" "$SRC/docs/authrelay.8" \
  "$SRC"/master.cf.d/* "$SRC"/docs/*.md 2>/dev/null | sort -u)
[ "${#names[@]}" -ge 8 ] || { echo "NOT OK: only ${#names[@]} authrelay_* names found in the docs"; exit 1; }

value_for() {
  case $1 in
    *_time_limit) echo 600s ;;
    *_rate_delay|*_refill_delay) echo 2s ;;
    *_limit|*_concurrency|*_slots|*_slot_*|*_feedback) echo 1 ;;
    *_log_file) echo /var/log/authrelay.log ;;
    *_session_cache) echo /var/lib/authrelay/tls_session_cache ;;
    *_timeout|*_window) echo 3600s ;;
    *_warning) echo 14d ;;
    *_allow_*) echo no ;;
    *_proxy) echo socks5://proxy.example.com:1080 ;;
    *_maps) echo hash:$D/cf/authrelay_proxy ;;
    *) echo "$1-value" ;;
  esac
}

make_config() {  # $1 = dir; writes master.cf with the shipped entry, a minimal main.cf
  mkdir -p "$1"
  cat /usr/share/postfix/master.cf.dist "$SRC/master.cf.d/master.cf" > "$1/master.cf"
  printf 'compatibility_level = 3.6\nmaildrop_destination_recipient_limit = 1\n' > "$1/main.cf"
  # -d knows the service-defined names once master.cf has the authrelay entry
  postconf -c "$1" -d >/dev/null 2>&1
}

make_config "$D/cf"
: > "$D/cf/authrelay.cf"
own=() postfix_side=()
for n in "${names[@]}"; do
  # postconf -d NAME prints "NAME = default" for a name it knows (and only
  # a warning, with exit 0, for one it does not).
  if postconf -c "$D/cf" -d "$n" 2>/dev/null | grep -q "^$n = "; then
    postfix_side+=("$n"); echo "$n = $(value_for "$n")" >> "$D/cf/main.cf"
  else
    own+=("$n"); echo "$n = $(value_for "$n")" >> "$D/cf/authrelay.cf"
  fi
done
echo "main.cf (Postfix's per-transport names): ${postfix_side[*]}"
echo "authrelay.cf (authrelay's own): ${own[*]}"

# 1. postconf -n: no warning at all.
postconf -c "$D/cf" -n > "$D/out" 2> "$D/err"
if [ ! -s "$D/err" ]; then ok "postconf -n prints no warning with ${#names[@]} authrelay settings"
else bad "postconf -n warns:"; cat "$D/err"; fi
for n in "${postfix_side[@]}"; do
  grep -q "^$n = " "$D/out" || bad "postconf -n does not show $n"
done

# 2. authrelay reads its own names from authrelay.cf.
for n in "${own[@]}"; do
  got=$("$BIN" -c "$D/cf" --postconf -- "$n" 2>&1)
  if [ "$got" = "$n = $(value_for "$n")" ]; then ok "authrelay reads $n from authrelay.cf"
  else bad "authrelay --postconf $n printed: $got"; fi
done
"$BIN" -c "$D/cf" --check > "$D/check" 2>&1
if grep -q "unused parameter\|own setting" "$D/check"; then bad "--check hints although main.cf is clean:"; cat "$D/check"
else ok "--check gives no hint for a clean main.cf"; fi

# 3. The old place: main.cf. Postfix warns (the reason for authrelay.cf),
# authrelay still reads it, --check says how to move them.
make_config "$D/old"
for n in "${own[@]}"; do echo "$n = $(value_for "$n")" >> "$D/old/main.cf"; done
postconf -c "$D/old" -n > /dev/null 2> "$D/err"
if [ "$(grep -c 'unused parameter' "$D/err")" = "${#own[@]}" ]; then ok "main.cf with the own names: postconf warns ${#own[@]} times (why they moved)"
else bad "expected ${#own[@]} postconf warnings for main.cf, got:"; cat "$D/err"; fi
n=${own[0]}
got=$("$BIN" -c "$D/old" --postconf -- "$n" 2>&1)
[ "$got" = "$n = $(value_for "$n")" ] && ok "main.cf still works for $n" || bad "main.cf $n: $got"
"$BIN" -c "$D/old" --check > "$D/check" 2>&1
if grep -q "warning: main.cf sets authrelay's own settings .*move them to $D/old/authrelay.cf" "$D/check"; then
  ok "--check: $(grep "warning: main.cf sets" "$D/check" | cut -c1-150)..."
else bad "--check gives no hint:"; cat "$D/check"; fi
# authrelay.cf wins over main.cf
echo "$n = from-authrelay-cf" > "$D/old/authrelay.cf"
got=$("$BIN" -c "$D/old" --postconf -- "$n" 2>&1)
[ "$got" = "$n = from-authrelay-cf" ] && ok "authrelay.cf wins over main.cf" || bad "precedence: $got"
# -o in argv wins over authrelay.cf
got=$("$BIN" -c "$D/old" -o "$n=from-argv" --postconf -- "$n" 2>&1)
[ "$got" = "$n = from-argv" ] && ok "-o in argv wins over authrelay.cf" || bad "precedence -o: $got"

# 4. A name Postfix reads does not belong in authrelay.cf.
echo "authrelay_time_limit = 100s" > "$D/old/authrelay.cf"
out=$("$BIN" -c "$D/old" --check 2>&1); rc=$?
if [ $rc = 75 ] && grep -q "^4.3.5 mail system configuration error: authrelay.cf: authrelay_time_limit is read by Postfix itself: set it in main.cf" <<<"$out"; then
  ok "authrelay_time_limit in authrelay.cf: exit 75, $(head -1 <<<"$out")"
else bad "authrelay_time_limit in authrelay.cf: rc=$rc $out"; fi

# 4b. Proxy credentials in authrelay.cf (world-readable like main.cf): --check
# errs without echoing the password.
printf 'authrelay_proxy_maps =\nauthrelay_proxy = socks5://relay:Pr0xyPassw0rd@proxy.example.com:1080\n' > "$D/old/authrelay.cf"
out=$("$BIN" -c "$D/old" --check --nexthop='[smtp.example.com]:587' 2>&1); rc=$?
if [ $rc = 75 ] && grep -q "^error: authrelay_proxy: proxy credentials do not belong" <<<"$out" \
   && ! grep -q Pr0xyPassw0rd <<<"$out"; then ok "--check: credentials in authrelay_proxy refused, password not shown"
else bad "--check with credentials in authrelay_proxy: rc=$rc $out"; fi

# 4b'. A proxy map holds proxy passwords: --check warns when others can read it.
printf '[smtp.example.com]:587 socks5://relay:Pr0xyPassw0rd@proxy.example.com:1080\n' > "$D/old/proxy_map"
postmap -c "$D/old" "hash:$D/old/proxy_map"; chmod 644 "$D/old/proxy_map.db"
printf 'authrelay_proxy_maps = hash:%s/old/proxy_map\n' "$D" > "$D/old/authrelay.cf"
out=$("$BIN" -c "$D/old" --check --nexthop='[smtp.example.com]:587' 2>&1)
if grep -q "^warning: lookup table $D/old/proxy_map.db is world-readable and may hold passwords" <<<"$out" \
   && ! grep -q Pr0xyPassw0rd <<<"$out"; then ok "--check: world-readable proxy map warned about, password not shown"
else bad "--check with a world-readable proxy map: $out"; fi
chmod 640 "$D/old/proxy_map.db"
out=$("$BIN" -c "$D/old" --check --nexthop='[smtp.example.com]:587' 2>&1)
grep -q "proxy_map.db is world-readable" <<<"$out" && bad "640 proxy map still warned: $out" || ok "--check: proxy map mode 640 raises no warning"
rm -f "$D/old/proxy_map" "$D/old/proxy_map.db" "$D/old/authrelay.cf"

# 4c. Whoever can write authrelay.cf picks the proxy and the TLS policy of
# every mail: a group/world-writable one (or a symlink to one) defers.
echo "authrelay_proxy = socks5://attacker.example:1080" > "$D/old/writable.cf"
chmod 666 "$D/old/writable.cf"
ln -sf writable.cf "$D/old/authrelay.cf"
for how in symlink file; do
  [ $how = file ] && { rm -f "$D/old/authrelay.cf"; cp "$D/old/writable.cf" "$D/old/authrelay.cf"; chmod 646 "$D/old/authrelay.cf"; }
  out=$("$BIN" -c "$D/old" --postconf -- authrelay_proxy 2>&1); rc=$?
  if [ $rc = 75 ] && grep -q "authrelay.cf is writable by group or others" <<<"$out"; then
    ok "world-writable authrelay.cf ($how) refused: $(head -1 <<<"$out")"
  else bad "world-writable authrelay.cf ($how) accepted: rc=$rc $out"; fi
done
chmod 644 "$D/old/authrelay.cf"
got=$("$BIN" -c "$D/old" --postconf -- authrelay_proxy 2>&1)
[ "$got" = "authrelay_proxy = socks5://attacker.example:1080" ] && ok "authrelay.cf mode 644 is read" || bad "644: $got"
rm -f "$D/old/writable.cf"
# A symlink to nothing (a broken install) defers: its proxy must not be
# silently dropped (mail would go direct).
ln -sfn "$D/old/missing.cf" "$D/old/authrelay.cf"
out=$("$BIN" -c "$D/old" --postconf -- authrelay_proxy 2>&1); rc=$?
if [ $rc = 75 ] && grep -q "cannot read authrelay.cf (No such file or directory)" <<<"$out"; then
  ok "dangling authrelay.cf symlink defers: $(head -1 <<<"$out")"
else bad "dangling authrelay.cf symlink: rc=$rc $out"; fi
rm -f "$D/old/authrelay.cf"

# 5. The log hint: once per version of main.cf, not on every delivery.
# Deliveries as an unprivileged user (as pipe(8) runs them) to a port
# nothing listens on; the marker lives in the state directory (that of
# authrelay_tls_session_cache).
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$D"
  install -m 755 "$BIN" "$D/authrelay"
  make_config "$D/hint"
  mkdir -p "$D/state"; chown nobody "$D/state"; : > "$D/hint.log"; chown nobody "$D/hint.log"
  printf 'authrelay_log_file = %s\nauthrelay_tls_session_cache = %s\n' "$D/hint.log" "$D/state/cache" >> "$D/hint/main.cf"
  chmod -R a+rX "$D/hint"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  deliver() { runuser -u nobody -- "$D/authrelay" -c "$D/hint" "--nexthop=[127.0.0.1]:$port" --sender=a@example.org -- r@example.com < /dev/null > /dev/null; }
  deliver; deliver
  n=$(grep -c "warning: main.cf sets authrelay's own settings authrelay_log_file, authrelay_tls_session_cache" "$D/hint.log")
  [ "$n" = 1 ] && ok "two deliveries: the hint is logged once" || bad "hint logged $n times after two deliveries: $(cat "$D/hint.log")"
  echo "# edited" >> "$D/hint/main.cf"; touch -d '+1 second' "$D/hint/main.cf"
  deliver
  n=$(grep -c "warning: main.cf sets authrelay's own settings" "$D/hint.log")
  [ "$n" = 2 ] && ok "main.cf changed: the hint is logged again" || bad "hint logged $n times after main.cf changed"
fi

t_finish
