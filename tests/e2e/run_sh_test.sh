#!/usr/bin/env bash
# What scripts/run.sh prints before the services answer, as a new user reads it (issue #16):
# the published cases as whole readable lines with the tier each gets, no pointer to a file the
# repository does not have, no output cut mid-token, and a build of only what the demo runs.
# And the days its past hangs on: population and status from the first event on, a cut-off at
# the end of the month three months back, closing lines that point at the past.
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

# The days, as run.sh computes them (its MONTHS and demo_dates), against what gen writes.
check "population as of the first day" \
  '"$UHCCTL" population import "$RUN/dataset/population.csv" --as-of "$FIRST_DAY"' "$script"
check "status effective from the first day" \
  '"$UHCCTL" region-status --file "$RUN/dataset/region-status.csv" --effective "$FIRST_DAY"' "$script"
check "gen over MONTHS" '--months "$MONTHS"' "$script"
check "a cut-off" '"$UHCCTL" cutoff create "$CUTOFF_ID" --as-of "$CUTOFF_DAY"' "$script"
months=$(sed -n 's/^SCALE=.* MONTHS=\([0-9]*\)$/\1/p' scripts/run.sh)
dates=$(sed -n '/^demo_dates() {/,/^}/p' scripts/run.sh)
read -r first cutoff id < <(MONTHS=$months bash -c \
  "set -euo pipefail; $dates; demo_dates; echo \$FIRST_DAY \$CUTOFF_DAY \$CUTOFF_ID")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
gen=$("$UHCCTL" gen --out "$dir" --scale 20000 --months "$months")
first_event=$(echo "$gen" | sed -n 's/.* events from \([0-9-]*\) to .*/\1/p')
today=$(TZ=Asia/Jakarta date +%F)
[[ -n "$first_event" && "$first" == *-01 && ! "$first" > "$first_event" ]] &&
  echo "ok   population and status from $first, the 1st of the month of the first event ($first_event)" ||
  { echo "FAIL first day '$first' against the first event '$first_event' ($gen)"; fail=1; }
end_of_month_three_back=$(python3 -c 'import datetime as d, sys
after = d.date.fromisoformat(sys.argv[1]) + d.timedelta(days=1)
today = d.date.fromisoformat(sys.argv[2])
print(after.day == 1 and after.year * 12 + after.month + 2 == today.year * 12 + today.month)' \
  "$cutoff" "$today")
[[ "$cutoff" > "$first_event" && $end_of_month_three_back == True ]] &&
  echo "ok   cut-off $cutoff: the end of the month three months back" ||
  { echo "FAIL cut-off day '$cutoff' (today $today)"; fail=1; }
check "cut-off id" "demo-${cutoff:0:7}" "$id"
closing=$(sed -n '/^# Where the past shows/,$p' scripts/run.sh)
check "points at trend" 'uhcctl trend $REGION' "$closing"
check "points at tier --as-of" 'uhcctl tier $REGION --as-of $CUTOFF_DAY' "$closing"
check "points at awards --cutoff" 'uhcctl awards --policy uhc-awards-2026 --cutoff $CUTOFF_ID' "$closing"
exit $fail
