#!/bin/bash
# Provider profiles: authrelay-setup --provider=NAME --dry-run says what it
# would set and why for each profile; --check warns when main.cf goes beyond
# the profile of a next hop it recognises, and is quiet once setup's values
# are in. postconf is the judge of what main.cf then says.
# Usage: provider_profiles_test.sh PATH/TO/authrelay SOURCE_DIR
set -uo pipefail
BIN=$(readlink -f "$1")
SRC=$(readlink -f "$2")
. "$SRC/tests/lib/harness.sh"
D=$(t_scratch profiles)
trap 'rm -rf "$D"' EXIT
expect() {  # file, fixed string, description
  if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: no \"$2\" in:"; cat "$1"; fi
}
mkconf() {
  rm -rf "$D/cf"; mkdir -p "$D/cf"
  cat /usr/share/postfix/master.cf.dist "$SRC/master.cf.d/master.cf" > "$D/cf/master.cf"
  printf 'compatibility_level = 3.6\nmessage_size_limit = 104857600\n%s\n' "$1" > "$D/cf/main.cf"
}

declare -A host=([gmail]=smtp.gmail.com [google-relay]=smtp-relay.gmail.com [m365]=smtp.office365.com
                 [ses]=email-smtp.eu-west-1.amazonaws.com [sendgrid]=smtp.sendgrid.net)
declare -A size=([gmail]=26214400 [google-relay]=26214400 [m365]=36700160 [ses]=41943040 [sendgrid]=31457280)
for p in gmail google-relay m365 ses sendgrid; do
  mkconf "relayhost = [${host[$p]}]:587"
  bash "$SRC/scripts/authrelay-setup" --dry-run -c "$D/cf" --binary "$BIN" --provider="$p" > "$D/out" 2>&1
  echo "--- authrelay-setup --provider=$p --dry-run (profile lines)"; grep -v 'useradd\|install -d\|authrelay/unix=\|authrelay.cf' "$D/out"
  expect "$D/out" "message_size_limit = ${size[$p]} (was 104857600)" "$p: message_size_limit lowered to ${size[$p]}, with why"
  expect "$D/out" "authrelay_destination_recipient_limit = 1 stays: within the profile" "$p: recipient limit 1 stays"
  # --check before and after applying the profile's settings
  "$BIN" -c "$D/cf" --check > "$D/check" 2>&1
  expect "$D/check" "warning: ${host[$p]} is " "$p: --check recognises ${host[$p]} and warns"
  sed -n 's/^would run: postconf -c [^ ]* -e //p' "$D/out" | while read -r line; do
    eval "postconf -c '$D/cf' -e $line"
  done
  "$BIN" -c "$D/cf" --check > "$D/check" 2>&1
  if grep -q "goes beyond its profile" "$D/check"; then bad "$p: --check still warns after setup's settings:"; cat "$D/check"
  else ok "$p: --check is quiet once setup's values are in main.cf"; fi
done

# m365: concurrency and rate delay, named with the figure.
mkconf "relayhost = [smtp.office365.com]:587"
bash "$SRC/scripts/authrelay-setup" --dry-run -c "$D/cf" --binary "$BIN" --provider=m365 > "$D/out" 2>&1
expect "$D/out" "authrelay_destination_concurrency_limit = 2 (was 20): Microsoft 365 allows 3 concurrent" "m365: concurrency 2"
expect "$D/out" "authrelay_destination_rate_delay = 2s (was 0s): Microsoft 365 accepts 30 messages a minute" "m365: rate delay 2s"
# An unknown host gets no profile warning; an unknown profile is one clear line.
mkconf "relayhost = [smtp.example.com]:587"
"$BIN" -c "$D/cf" --check > "$D/check" 2>&1
grep -q "goes beyond its profile" "$D/check" && bad "profile warning for an unknown host" || ok "no profile for smtp.example.com"
out=$("$BIN" -c "$D/cf" --provider-profile=yahoo); rc=$?
[ $rc = 75 ] && [ "$out" = '4.3.5 unknown provider profile "yahoo" (known: gmail, google-relay, m365, ses, sendgrid)' ] \
  && ok "unknown profile: $out" || bad "unknown profile: rc=$rc $out"

t_finish
