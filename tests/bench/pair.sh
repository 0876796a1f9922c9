#!/usr/bin/env bash
# Quick paired comparisons of Redis CPU per event: for each variant in turn, a fresh Redis, the
# Redis-only ceiling (uhc-bench-ceiling), then one ingest of the realistic mix through
# enrollment-svc and the verify pass; one line per variant. Run variants alternately and more than
# once: this machine's speed drifts by tens of percent between minutes.
# Usage: tests/bench/pair.sh [--events N] [--build-dir DIR] [--pin] VARIANT...
#   VARIANT: `built` (this build), a path to another enrollment-svc binary, a build directory
#   ending in / (its enrollment-svc and, with --module, its uhc_module.so), or a .lua file loaded
#   over uhc_v3 once this build's enrollment-svc is up (bench use only: its answers may be wrong,
#   and the verify pass then reports mismatches instead of stopping).
#   --module: Redis loads the variant's uhc_module.so (this build's for `built`): the module
#   applies; without it, the Lua function. Each line then also has the C floor (uhc-bench-ceiling
#   --floor) when this build has it, and ours/floor.
#   ENROLL_FLAGS (environment): extra enrollment-svc flags, e.g. "--events_per_call 2000".
#   defaults: 1,000,000 events, build dir build-release.
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=1000000 BUILD=build-release PIN_STORE=() PIN_REST=() VARIANTS=() MODULE=no
while (($#)); do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    --pin) PIN_STORE=(taskset -c 1) PIN_REST=(taskset -c 0); shift ;;
    --module) MODULE=yes; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "pair.sh: unknown argument $1" >&2; exit 2 ;;
    *) VARIANTS+=("$1"); shift ;;
  esac
done
((${#VARIANTS[@]})) || { echo "pair.sh: name at least one variant (see --help)" >&2; exit 2; }
[ -x "$BUILD/tools/uhc-loadgen" ] || scripts/setup.sh Release "$BUILD" >/dev/null
WORK=$(mktemp -d /tmp/uhc-pair-XXXXXX)
BENCH_MODULE=$MODULE  # without --module: the Lua function in every build compared
[ ! -f "$BUILD/tools/uhc_bench_floor.so" ] || BENCH_FLOOR_SO=$(realpath "$BUILD/tools/uhc_bench_floor.so")
source tests/bench/lib.sh
trap 'stop_all; rm -rf "$WORK"' EXIT
read -r -a EXTRA <<<"${ENROLL_FLAGS:-}"

for v in "${VARIANTS[@]}"; do
  binary="$BUILD/enrollment-svc/enrollment-svc" lua="" own="$BUILD"
  case "$v" in
    built) ;;
    *.lua) lua="$v" ;;
    */) own="${v%/}" binary="${v%/}/enrollment-svc/enrollment-svc" ;;
    *) binary="$v" ;;
  esac
  # Redis loads the variant's module, and this build's floor.
  if [ "$MODULE" = yes ]; then
    BUILD=$own start_redis
  else
    start_redis
  fi
  ceiling=$("${PIN_REST[@]}" "$BUILD/tools/uhc-bench-ceiling" --redis_port "$REDIS_PORT" --events "$EVENTS")
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  floor='{"redis_cpu_us_per_event": 0}'
  if redis-cli -p "$REDIS_PORT" command info uhc_bench.floor | grep -q floor; then
    floor=$("${PIN_REST[@]}" "$BUILD/tools/uhc-bench-ceiling" --floor --redis_port "$REDIS_PORT" --events "$EVENTS")
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
  fi
  start_services "$binary" "${EXTRA[@]}"
  [ -z "$lua" ] || redis-cli -p "$REDIS_PORT" -x function load replace < "$lua" >/dev/null
  read -r cpu ingest < <(measured_ingest "$EVENTS")
  verify=$("$BUILD/tools/uhc-loadgen" --mode verify --redis_port "$REDIS_PORT" || true)
  memory=$(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  stop_all
  python3 -c 'import json,sys
c, i, v, f = (json.loads(a) for a in sys.argv[2:5] + sys.argv[6:7])
ours = float(sys.argv[5]) * 1e6 / i["events"]
fl = f["redis_cpu_us_per_event"]
print("%-40s ceiling %.2f  floor %.2f  ours %.2f us/event  ours/ceiling %.2f  ours/floor %s  events/s %.0f  mismatches %d  bytes/record %.1f" % (
    sys.argv[1], c["redis_cpu_us_per_event"], fl, ours, ours / c["redis_cpu_us_per_event"],
    "%.2f" % (ours / fl) if fl else "-", i["events_per_second"], v["mismatched_fields"],
    int(sys.argv[7]) / max(1, v.get("records", 0))))' \
    "$v" "$ceiling" "$ingest" "$verify" "$cpu" "$floor" "$memory"
done
