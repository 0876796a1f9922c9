#!/usr/bin/env bash
# Ingest efficiency, repeated: per run, on a fresh Redis, the Redis-only ceiling
# (uhc-bench-ceiling), our ingest through enrollment-svc (uhc-loadgen --mode ingest, Redis CPU per
# event from INFO cpu, then --mode verify), the ceiling again on another fresh Redis (the ratio
# uses the mean of the two), and the PostgreSQL 15 peer (uhc-bench-pg on one and
# on two connections, a throwaway cluster). Prints one markdown row per run and the median.
# Usage: tests/bench/ingest_efficiency.sh [--runs N] [--events N] [--build-dir DIR] [--pin]
#                                         [--apply_engine auto|module|function]
#   defaults: 3 runs, 1,000,000 events, build dir build-release (scripts/setup.sh Release),
#   enrollment-svc's --apply_engine auto (Redis has uhc_module.so loaded, so: the module).
#   --pin: Redis (and PostgreSQL) on CPU 1, the clients and services on CPU 0: less run-to-run
#   noise on a 2-core machine. Otherwise everything shares this machine's cores: Redis,
#   PostgreSQL, both services, the load generator.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=3 EVENTS=1000000 BUILD=build-release PIN_STORE=() PIN_REST=() ENGINE=auto
while (($#)); do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --events) EVENTS="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    --pin) PIN_STORE=(taskset -c 1) PIN_REST=(taskset -c 0); shift ;;
    --apply_engine) ENGINE="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "ingest_efficiency.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BUILD/tools/uhc-bench-pg" ] && [ -f "$BUILD/enrollment-svc/module/uhc_module.so" ] ||
  scripts/setup.sh Release "$BUILD" >/dev/null
WORK=$(mktemp -d /tmp/uhc-eff-XXXXXX)
PG_DIR=$(mktemp -u /tmp/uhc-eff-pg-XXXXXX)  # outside WORK (mode 700) for the server's user
source tests/bench/lib.sh
cleanup() { stop_all; tests/bench/pg_cluster.sh stop "$PG_DIR" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

RESULTS=()
for run in $(seq "$RUNS"); do
  start_redis
  CEILING=$("${PIN_REST[@]}" "$BUILD/tools/uhc-bench-ceiling" --redis_port "$REDIS_PORT" --events "$EVENTS")
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  start_services "$BUILD/enrollment-svc/enrollment-svc" --apply_engine "$ENGINE"
  read -r REDIS_CPU_S INGEST < <(measured_ingest "$EVENTS")
  # Which engine applied the events: the module's command or the function (FCALL).
  USED=$(redis-cli -p "$REDIS_PORT" info commandstats | grep -q '^cmdstat_uhc.apply_v4:' && echo module || echo function)
  VERIFY=$("$BUILD/tools/uhc-loadgen" --mode verify --redis_port "$REDIS_PORT")
  MEMORY=$(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  stop_all
  [ "$(json "$VERIFY" mismatched_fields)" = 0 ] || { echo "aggregates drifted: $VERIFY" >&2; exit 1; }
  # The ceiling once more, on a fresh Redis: the two bracket ours in time, so their mean is
  # less biased by this machine's drift than either.
  start_redis
  CEILING2=$("${PIN_REST[@]}" "$BUILD/tools/uhc-bench-ceiling" --redis_port "$REDIS_PORT" --events "$EVENTS")
  stop_all
  "${PIN_STORE[@]}" tests/bench/pg_cluster.sh start "$PG_DIR" >/dev/null
  pg() { "${PIN_REST[@]}" "$BUILD/tools/uhc-bench-pg" --socket_dir "$PG_DIR" --port "$(cat "$PG_DIR/port")" \
    --events "$EVENTS" --batch 2000 --connections "$1" 2>/dev/null; }
  PG1=$(pg 1)
  PG2=$(pg 2)
  tests/bench/pg_cluster.sh stop "$PG_DIR"
  echo "run $run: $CEILING $INGEST $VERIFY redis_cpu_s=$REDIS_CPU_S $CEILING2 $PG1 $PG2" >&2
  RESULTS+=("$(python3 -c 'import json,sys; print(json.dumps({"ceiling": json.loads(sys.argv[1]),
    "ingest": json.loads(sys.argv[2]), "verify": json.loads(sys.argv[3]),
    "redis_cpu_s": float(sys.argv[4]), "memory": int(sys.argv[5]),
    "pg1": json.loads(sys.argv[6]), "pg2": json.loads(sys.argv[7]),
    "ceiling2": json.loads(sys.argv[8]), "engine": sys.argv[9]}))' \
    "$CEILING" "$INGEST" "$VERIFY" "$REDIS_CPU_S" "$MEMORY" "$PG1" "$PG2" "$CEILING2" "$USED")")
done

python3 - "${RESULTS[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
print("| run | ceiling us/event (mean; before / after ours) | Redis us/event (ours) | ours / ceiling | PostgreSQL us/event "
      "(2 conn / 1 conn) | ours / PostgreSQL | ingest events/s | PostgreSQL events/s (2 conn / 1 conn) "
      "| ingest / PostgreSQL 2 conn | verify mismatches | Redis bytes per record | engine |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
cols = []
for i, r in enumerate(runs, 1):
    n = r["ingest"]["events"]
    ours = r["redis_cpu_s"] * 1e6 / n
    before, after = (r["ceiling"]["redis_cpu_us_per_event"],
                     r["ceiling2"]["redis_cpu_us_per_event"])
    ceil = (before + after) / 2
    pg2, pg1 = r["pg2"]["cpu_us_per_event"], r["pg1"]["cpu_us_per_event"]
    eps, pg2e, pg1e = (r["ingest"]["events_per_second"], r["pg2"]["events_per_second"],
                       r["pg1"]["events_per_second"])
    row = [ours, ceil, ours / ceil, pg2, ours / pg2, eps, pg2e, eps / pg2e]
    cols.append(row)
    print("| %d | %.2f (%.2f / %.2f) | %.2f | %.2f | %.2f / %.2f | %.2f | %.0f | %.0f / %.0f | %.2f | %d | %.1f | %s |" % (
        i, ceil, before, after, ours, ours / ceil, pg2, pg1, ours / pg2, eps, pg2e, pg1e, eps / pg2e,
        r["verify"]["mismatched_fields"], r["memory"] / r["verify"]["records"], r["engine"]))
med = [statistics.median(c[k] for c in cols) for k in range(8)]
print("| median | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.2f | | | |" % (
    med[1], med[0], med[2], med[3], med[4], med[5], med[6], med[7]))
PY
