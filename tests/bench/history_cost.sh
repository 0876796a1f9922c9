#!/usr/bin/env bash
# What the per-day history costs at ingest: Redis CPU per event through this build's
# enrollment-svc (uhc_apply_v3: aggregate and day hash in one call) against a baseline without
# history, each run on a fresh Redis, the two alternating first; then the bytes the day hashes
# take per region-day. The baseline is either
#   --history-off: this build with its apply function's history taken out (history_off.py loads
#     it over uhc_v3 once enrollment-svc is up): the cost of the history alone; or
#   --baseline-bin PATH: another enrollment-svc binary (the previous release, uhc_apply_v2).
# Usage: tests/bench/history_cost.sh (--history-off | --baseline-bin PATH) [--runs N] [--events N]
#          [--build-dir DIR] [--prefill-days N] [--events-per-call N] [--pin]
#   defaults: 3 runs, 1,000,000 events, build dir build-release, 730 prefilled days: before the
#   ingest with history, every kab/kota's day hash gets N earlier days, as in steady state with
#   two years kept (the bench's events fall on about 12 days). A baseline binary:
#   git worktree add /tmp/base e93a3b5 && scripts/setup.sh RelWithDebInfo /tmp/base/build ...
#   (docs/BENCHMARKS.md, "History cost", has the exact commands).
#   --events-per-call: this build's --events_per_call (default: its own, 8000).
#   --pin: Redis on CPU 1, everything else on CPU 0 (less run-to-run noise on a 2-core machine).
# Otherwise everything shares this machine's cores: Redis, both services, the load generator.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=3 EVENTS=1000000 BUILD=build-release BASELINE="" PREFILL=730 PER_CALL="" HISTORY_OFF="" PIN_STORE=() PIN_REST=()
while (($#)); do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --events) EVENTS="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    --baseline-bin) BASELINE="$2"; shift 2 ;;
    --history-off) HISTORY_OFF=1; shift ;;
    --prefill-days) PREFILL="$2"; shift 2 ;;
    --events-per-call) PER_CALL="$2"; shift 2 ;;
    --pin) PIN_STORE=(taskset -c 1) PIN_REST=(taskset -c 0); shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "history_cost.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -n "$HISTORY_OFF" ]; then
  BASELINE="$BUILD/enrollment-svc/enrollment-svc"
  OFF_LUA=$(mktemp /tmp/uhc-history-off-XXXXXX.lua)
  tests/bench/history_off.py > "$OFF_LUA"
fi
[ -x "$BASELINE" ] || { echo "history_cost.sh: give --history-off or --baseline-bin naming an enrollment-svc binary" >&2; exit 2; }
[ -x "$BUILD/tools/uhc-loadgen" ] || scripts/setup.sh Release "$BUILD" >/dev/null
WORK=$(mktemp -d /tmp/uhc-hist-XXXXXX)
BENCH_MODULE=no  # the Lua function in every build compared
source tests/bench/lib.sh
trap 'stop_all; rm -rf "$WORK" ${OFF_LUA:+"$OFF_LUA"}' EXIT

# $PREFILL days before the bench's first event (2025-01-01, day 20089) in every kab/kota's day
# hash, each a packed zero change: the size two years of history give the hash.
prefill() {
  ((PREFILL > 0)) || return 0
  python3 - "$PREFILL" <<'PY' | redis-cli -p "$REDIS_PORT" --pipe >/dev/null
import csv, sys
n = int(sys.argv[1])
out = sys.stdout.buffer
zero = b"\0" * 40
def bulk(b): return b"$%d\r\n%s\r\n" % (len(b), b)
for row in csv.DictReader(open("data/regencies.csv")):
    key = ("uhc:{%s}:days" % row["code"]).encode()
    # The marker first: a hash table from the start, as uhc_apply_v3 keeps it (the conversion
    # of a listpack would otherwise fall inside the measured ingest).
    args = [b"HSET", key, b"enc", b"x" * 100]
    out.write(b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args))
    for first in range(20089 - n, 20089, 200):
        days = range(first, min(first + 200, 20089))
        args = [b"HSET", key]
        for d in days: args += [b"d%d" % d, zero]
        out.write(b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args))
PY
}

# One ingest of $EVENTS through enrollment-svc binary $1 ($2 = 1: prefill the day hashes first,
# and keep every day: the prefilled days are older than the default --history_days from today;
# $3: a function library to load over the binary's once it is up):
# "<Redis µs/event> <events/s> <day fields> <day hash bytes>".
measure() {
  start_redis
  [ "${2:-0}" = 1 ] && prefill
  local flags=()
  [ "${2:-0}" = 1 ] && flags=(--history_days 0)
  [ "${2:-0}" = 1 ] && [ -n "$PER_CALL" ] && flags+=(--events_per_call "$PER_CALL")
  start_services "$1" "${flags[@]}"
  [ -z "${3:-}" ] || redis-cli -p "$REDIS_PORT" -x function load replace < "$3" >/dev/null
  local cpu ingest verify
  read -r cpu ingest < <(measured_ingest "$EVENTS")
  verify=$("$BUILD/tools/uhc-loadgen" --mode verify --redis_port "$REDIS_PORT")
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]); sys.exit(v["mismatched_fields"] != 0)' \
    "$verify" || { echo "aggregates drifted: $verify" >&2; exit 1; }
  local fields=0 bytes=0 key
  while read -r key; do
    [ -n "$key" ] || continue
    # Every field but the marker `enc` (uhc_apply_v3.lua) is a day.
    fields=$((fields + $(redis-cli -p "$REDIS_PORT" hlen "$key") - $(redis-cli -p "$REDIS_PORT" hexists "$key" enc)))
    bytes=$((bytes + $(redis-cli -p "$REDIS_PORT" memory usage "$key" samples 0)))
  done < <(redis-cli -p "$REDIS_PORT" --scan --pattern 'uhc:{*}:days')
  stop_all
  python3 -c 'import json,sys
i = json.loads(sys.argv[1])
print("%.3f %.0f %s %s" % (float(sys.argv[2]) * 1e6 / i["events"], i["events_per_second"],
                           sys.argv[3], sys.argv[4]))' \
    "$ingest" "$cpu" "$fields" "$bytes"
}

# The baseline: with --history-off this build, same prefill, its history taken out.
measure_baseline() {
  if [ -n "$HISTORY_OFF" ]; then measure "$BASELINE" 1 "$OFF_LUA"; else measure "$BASELINE"; fi
}

ROWS=()
for run in $(seq "$RUNS"); do
  if ((run % 2)); then
    BASE=$(measure_baseline); OURS=$(measure "$BUILD/enrollment-svc/enrollment-svc" 1)
  else
    OURS=$(measure "$BUILD/enrollment-svc/enrollment-svc" 1); BASE=$(measure_baseline)
  fi
  echo "run $run: baseline $BASE / with history $OURS" >&2
  ROWS+=("$BASE $OURS")
done

python3 - "${ROWS[@]}" <<'PY'
import statistics, sys
print("| run | baseline Redis us/event | with history us/event | history adds | "
      "ingest events/s (baseline / history) | region-days | bytes per region-day |")
print("| --- | --- | --- | --- | --- | --- | --- |")
adds = []
for i, row in enumerate(sys.argv[1:], 1):
    b, be, _, _, h, he, fields, byts = [float(x) for x in row.split()]
    days = fields
    adds.append(h / b - 1)
    print("| %d | %.2f | %.2f | %+.1f %% | %.0f / %.0f | %d | %.0f |" % (
        i, b, h, 100 * (h / b - 1), be, he, days, byts / days if days else 0))
print("| median | | | %+.1f %% | | | |" % (100 * statistics.median(adds)))
PY
