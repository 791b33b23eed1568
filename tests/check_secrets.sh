#!/bin/bash
# The suite-wide secret check: every log and output the tests kept
# (AUTHRELAY_TEST_ARTIFACTS) and everything ctest printed (LastTest.log) is
# searched for every test secret, raw, as the base64 an AUTH LOGIN exchange
# would carry, and as its base64 inside any longer base64 blob (AUTH PLAIN's
# "\0user\0password"): the characters made of its bits alone, at each of
# the three byte alignments. 0 hits, or the test fails.
# Usage: check_secrets.sh ARTIFACTS_DIR [MORE_FILES...]
set -uo pipefail
A=$1; shift
[ -d "$A/secrets" ] || { echo "no secrets recorded in $A/secrets: did the other tests run?"; exit 1; }
secrets=$(cat "$A"/secrets/* | sort -u | grep .)
n_secrets=$(grep -c . <<<"$secrets")
n_files=$(find "$A" -path "$A/secrets" -prune -o -type f -print | wc -l)
hits=0
# The base64 characters that only the secret's own bits make, when it
# starts k = 0, 1, 2 bytes into a 3-byte group (at least 8 of them).
base64_cores() {
  python3 -c '
import base64, sys
s = sys.argv[1].encode()
for k in range(3):
    enc = base64.b64encode(b"\0" * k + s).decode()
    core = enc[(8 * k + 5) // 6 : 8 * (k + len(s)) // 6]
    if len(core) >= 8:
        print(core)' "$1"
}
while IFS= read -r s; do
  for form in "$s" "$(printf '%s' "$s" | base64 -w0)" $(base64_cores "$s"); do
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
