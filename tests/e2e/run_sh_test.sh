#!/usr/bin/env bash
# What scripts/run.sh prints before the services answer, as a new user reads it (issue #16):
# the published cases as whole readable lines with the tier each gets, no pointer to a file the
# repository does not have, no output cut mid-token, and a build of only what the demo runs.
# Usage: tests/e2e/run_sh_test.sh UHCCTL
set -u
cd "$(dirname "$0")/../.."
UHCCTL="$1"
fail=0
check() {  # check NAME EXPECTED_SUBSTRING ACTUAL
  if [[ "$3" == *"$2"* ]]; then echo "ok   $1"; else echo "FAIL $1: wanted '$2' in: $3"; fail=1; fi
}
refuse() {  # refuse NAME UNWANTED_SUBSTRING ACTUAL
  if [[ "$3" != *"$2"* ]]; then echo "ok   $1"; else echo "FAIL $1: '$2' in: $3"; fail=1; fi
}
script=$(cat scripts/run.sh)
refuse "no DOMAIN.md (not in the repository)" "DOMAIN.md" "$script"
refuse "no output cut at a column" "cut -c" "$script"
check "builds only the services and uhcctl" \
  "scripts/setup.sh Release build-release enrollment-svc classifier-svc uhcctl" "$script"

# The published cases exactly as run.sh prints them: its seed_case function and calls.
cases=$(sed -n '/^seed_case() {/,/^$/p' scripts/run.sh)
out=$(UHCCTL="$UHCCTL" bash -c "set -euo pipefail; $cases" 2>&1)
check "Banyuasin line" "Kab. Banyuasin, 2026: 98 % / 85 % / pemda 10 %       -> madya    (reported: madya)" "$out"
check "Banten line" "-> pratama  (reported: pratama)" "$out"
check "Batu Bara line" "-> uhc      (reported: uhc, held since December 2023)" "$out"
refuse "no JSON" "{" "$out"
[ "$(echo "$out" | wc -l)" -eq 3 ] && echo "ok   three lines" || { echo "FAIL three lines: $out"; fail=1; }
exit $fail
