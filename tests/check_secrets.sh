#!/bin/bash
# The suite-wide secret check: every log and output the tests kept
# (AUTHRELAY_TEST_ARTIFACTS) and everything ctest printed (LastTest.log) is
# searched for every test secret, raw and as the base64 an AUTH PLAIN or
# LOGIN exchange would carry. 0 hits, or the test fails.
# Usage: check_secrets.sh ARTIFACTS_DIR [MORE_FILES...]
set -uo pipefail
A=$1; shift
[ -d "$A/secrets" ] || { echo "no secrets recorded in $A/secrets: did the other tests run?"; exit 1; }
secrets=$(cat "$A"/secrets/* | sort -u | grep .)
n_secrets=$(grep -c . <<<"$secrets")
n_files=$(find "$A" -path "$A/secrets" -prune -o -type f -print | wc -l)
hits=0
while IFS= read -r s; do
  for form in "$s" "$(printf '%s' "$s" | base64 -w0)"; do
    found=$(find "$A" -path "$A/secrets" -prune -o -type f -print0 | xargs -0 -r grep -laF -- "$form" 2>/dev/null; \
            for f in "$@"; do [ -f "$f" ] && grep -laF -- "$form" "$f"; done)
    if [ -n "$found" ]; then echo "secret found in: $found"; hits=$((hits + 1)); fi
  done
done <<<"$secrets"
# AUTH PLAIN payloads contain user and password together.
for f in "$A"/*/log/authrelay.log; do
  [ -f "$f" ] && grep -q "AUTH PLAIN [A-Za-z0-9+/=]\{8,\}" "$f" && { echo "AUTH PLAIN payload in $f"; hits=$((hits + 1)); }
done
echo "searched $n_files files and the ctest log for $n_secrets secrets: $hits hits"
# Positive control: the check can see a secret when one is there.
probe=$(mktemp); echo "xx $(head -1 <<<"$secrets") xx" > "$probe"
grep -qF -- "$(head -1 <<<"$secrets")" "$probe" || { echo "self-test failed"; exit 1; }
rm -f "$probe"
[ "$hits" = 0 ]
