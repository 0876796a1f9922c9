#!/usr/bin/env bash
# uhcctl evaluate as a user runs it: the seed cases, exit codes and messages.
set -u
UHCCTL="$1"
fail=0
check() {  # check NAME EXPECTED_SUBSTRING ACTUAL
  if [[ "$3" == *"$2"* ]]; then echo "ok   $1"; else echo "FAIL $1: wanted '$2' in: $3"; fail=1; fi
}

out=$("$UHCCTL" evaluate --policy uhc-awards-2026 --population 100000 --participants 98000 \
  --active 85000 --pemda-registered 10000 --uhc-prioritas --dues-paid-through 2025-09)
check "Banyuasin is madya" '"tier":"madya"' "$out"
check "json fields" '"coverage_bp":9800,"activity_bp":8500,"pemda_share_bp":1000,"criteria":[' "$out"
check "next tier" '"next_tier":"utama"' "$out"

out=$("$UHCCTL" evaluate --policy uhc-awards-2026 --population 100000 --participants 98000 \
  --active 80000 --pemda-registered 5000 --uhc-prioritas --dues-paid-through 2025-09)
check "Banten is pratama" '"tier":"pratama"' "$out"

out=$("$UHCCTL" evaluate --policy uhc-2023 --population 10000 --participants 9507 --active 6000 \
  --pemda-registered 0)
check "Batu Bara 2023 is uhc" '"tier":"uhc"' "$out"

err=$("$UHCCTL" evaluate --policy uhc-awards-2026 --participants 1 --active 1 \
  --pemda-registered 0 2>&1 >/dev/null); code=$?
check "missing flag exits 2" "2" "$code"
check "missing flag is named" "--population" "$err"
[[ $(printf '%s' "$err" | wc -l) -le 1 ]] || { echo "FAIL message is one line"; fail=1; }

err=$("$UHCCTL" evaluate --population x --participants 1 --active 1 --pemda-registered 0 2>&1); code=$?
check "bad number exits 2" "2" "$code"
check "bad number is named" "--population: 'x'" "$err"

err=$("$UHCCTL" evaluate --policy nope --population 1 --participants 1 --active 1 \
  --pemda-registered 0 2>&1); code=$?
check "unknown policy exits 2" "2" "$code"
check "unknown policy lists known" "uhc-awards-2026" "$err"

out=$("$UHCCTL" --help); check "help lists evaluate" "evaluate" "$out"
out=$("$UHCCTL" evaluate --help); check "evaluate help" "--dues-paid-through" "$out"
exit $fail
