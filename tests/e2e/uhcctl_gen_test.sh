#!/usr/bin/env bash
# uhcctl gen: reproducible for a seed, different for another, every kab/kota present; events over
# --months months before today (WIB), each participant's in time order.
set -u
UHCCTL="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
"$UHCCTL" gen --out "$dir/a" --scale 20000 --seed 7 >/dev/null || { echo "FAIL gen a"; exit 1; }
"$UHCCTL" gen --out "$dir/b" --scale 20000 --seed 7 >/dev/null || { echo "FAIL gen b"; exit 1; }
"$UHCCTL" gen --out "$dir/c" --scale 20000 --seed 8 >/dev/null || { echo "FAIL gen c"; exit 1; }
for f in population.csv region-status.csv events.jsonl; do
  cmp -s "$dir/a/$f" "$dir/b/$f" || { echo "FAIL $f differs for the same seed"; fail=1; }
done
cmp -s "$dir/a/events.jsonl" "$dir/c/events.jsonl" && { echo "FAIL another seed, same events"; fail=1; }
[ "$(wc -l < "$dir/a/population.csv")" -eq 515 ] || { echo "FAIL population rows"; fail=1; }
[ "$(wc -l < "$dir/a/region-status.csv")" -eq $((1 + 514 + 38)) ] || { echo "FAIL status rows"; fail=1; }
[ "$(cut -d, -f1 "$dir/a/population.csv" | tail -n +2 | sort -u | wc -l)" -eq 514 ] || { echo "FAIL distinct kab/kota"; fail=1; }
grep -q '"relocated"' "$dir/a/events.jsonl" || { echo "FAIL no relocations"; fail=1; }
grep -q '"terminated"' "$dir/a/events.jsonl" || { echo "FAIL no terminations"; fail=1; }
# --late 5: the same events, about 5 % of them later in the file than their time says.
"$UHCCTL" gen --out "$dir/l" --scale 20000 --seed 7 --late 5 | grep -q "delivered late and out of order" ||
  { echo "FAIL gen --late does not say so"; fail=1; }
cmp -s <(sort "$dir/a/events.jsonl") <(sort "$dir/l/events.jsonl") || { echo "FAIL --late changed the events"; fail=1; }
cmp -s "$dir/a/events.jsonl" "$dir/l/events.jsonl" && { echo "FAIL --late 5 kept the order"; fail=1; }
python3 - "$dir/l/events.jsonl" <<'PY' || fail=1
import json, sys
times = [json.loads(line)["event_time"] for line in open(sys.argv[1])]
latest, late = "", 0
for t in times:
    if t < latest:
        late += 1
    latest = max(latest, t)
share = late / len(times)
if not 0.01 < share < 0.10:
    print("FAIL --late 5: %.3f of the events arrive after a later one" % share)
    sys.exit(1)
PY
"$UHCCTL" gen --late 51 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL --late 51 must exit 2"; fail=1; }
"$UHCCTL" gen --scale 0 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL --scale 0 must exit 2"; fail=1; }
"$UHCCTL" gen --months 0 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL --months 0 must exit 2"; fail=1; }
"$UHCCTL" gen --out "$dir/d" --scale 20000 --seed 7 --months 12 >/dev/null || { echo "FAIL gen d"; exit 1; }
# The default 15 months and 12: from the same day of the month that many months back (WIB), the
# first events in its first weeks and the last ones in the last weeks, none in the future.
for run in a:15 d:12; do
  python3 - "$dir/${run%:*}/events.jsonl" "${run#*:}" <<'PY' || fail=1
import datetime as d, json, sys
wib = d.timezone(d.timedelta(hours=7))
now = d.datetime.now(wib)
months = int(sys.argv[2])
m = now.year * 12 + now.month - 1 - months
start = d.datetime(m // 12, m % 12 + 1, 1, tzinfo=wib) + d.timedelta(days=now.day - 1)
end = now.replace(hour=0, minute=0, second=0, microsecond=0)
last = {}
problems = []
times = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    t = d.datetime.strptime(e["event_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=d.timezone.utc)
    times.append(t)
    participant, k = e["event_id"].rsplit("-", 1)
    if participant in last and last[participant] > (t, int(k)):
        problems.append("out of order: " + e["event_id"])
    last[participant] = (t, int(k))
if min(times) < start or max(times) >= end:
    problems.append("events from %s to %s, not within [%s, %s)" % (min(times), max(times), start, end))
if min(times) > start + d.timedelta(days=14) or max(times) < end - d.timedelta(days=14):
    problems.append("events from %s to %s do not fill the %d months" % (min(times), max(times), months))
for p in problems[:5]:
    print("FAIL --months %d: %s" % (months, p))
sys.exit(1 if problems else 0)
PY
done
[ $fail -eq 0 ] && echo "ok uhcctl gen"
exit $fail
