#!/usr/bin/env bash
# uhcctl gen: reproducible for a seed, different for another, every kab/kota present.
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
"$UHCCTL" gen --scale 0 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL --scale 0 must exit 2"; fail=1; }
[ $fail -eq 0 ] && echo "ok uhcctl gen"
exit $fail
