#!/bin/bash
# check_secrets.sh must find a leak in every form it promises to look for:
# plants the secret raw, as base64, and as base64 inside a longer blob at
# each alignment (as an echoed AUTH PLAIN line would carry it), one form per
# run, and requires a hit each time; a clean artifacts directory passes.
# Usage: check_secrets_selftest.sh PATH/TO/check_secrets.sh
set -uo pipefail
CHECK=$1
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
secret="planted-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')-pw"
failed=0
setup() { rm -rf "$T/a"; mkdir -p "$T/a/secrets" "$T/a/run/log"; echo "$secret" > "$T/a/secrets/s"; echo "clean line" > "$T/a/run/log/authrelay.log"; }
setup
if out=$(bash "$CHECK" "$T/a" 2>&1); then echo "ok: clean artifacts pass: ${out##*$'\n'}"; else echo "NOT OK: clean artifacts fail: $out"; failed=1; fi
plant() {
  local name=$1 text=$2
  setup; printf '535 5.7.8 you sent %s\n' "$text" >> "$T/a/run/log/authrelay.log"
  if out=$(bash "$CHECK" "$T/a" 2>&1); then echo "NOT OK: $name not found"; failed=1
  else echo "ok: $name found: $(grep -m1 'found in\|payload' <<<"$out")"; fi
}
plant "raw secret" "$secret"
plant "base64 of the secret" "$(printf '%s' "$secret" | base64 -w0)"
for prefix in "" "u" "us"; do
  plant "AUTH PLAIN blob, secret at alignment ${#prefix}" \
        "AUTH PLAIN $(printf '\0%s\0%s' "alice$prefix" "$secret" | base64 -w0)"
  plant "base64 blob without AUTH, alignment ${#prefix}" "$(printf 'x%s%s tail' "$prefix" "$secret" | base64 -w0)"
done
exit $failed
