#!/usr/bin/env bash
# The benchmark: builds in Release, starts Redis and both services on loopback, and measures in
# one run the baselines (per-event EVALSHA with redis-benchmark; the Redis-only ceiling of exact
# ingest, uhc-bench-ceiling; a PostgreSQL 15 peer applying the same mix, uhc-bench-pg, on a
# throwaway cluster; an empty unary RPC on the same server plumbing) and ours (ingest with Redis
# CPU per event, queries, freshness, memory). Prints a markdown table.
# Usage: tests/bench/run_bench.sh [--smoke] [--build-dir DIR]
#   --smoke   a few seconds with small numbers (CI), asserting only that everything runs.
# Everything shares this machine's cores: Redis, both services and the load generator.
set -euo pipefail
cd "$(dirname "$0")/../.."
SMOKE=0 BUILD=build-release
while (($#)); do
  case "$1" in
    --smoke) SMOKE=1; shift ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if ((SMOKE)); then
  EVENTS=20000 MEMORY_PARTICIPANTS=50000 SECONDS_PER=1 SAMPLES=5 EVALSHA_N=20000
  [ -x "$BUILD/tools/uhc-loadgen" ] || scripts/setup.sh RelWithDebInfo "$BUILD" >/dev/null
else
  EVENTS=2000000 MEMORY_PARTICIPANTS=5000000 SECONDS_PER=10 SAMPLES=100 EVALSHA_N=3000000
  scripts/setup.sh Release "$BUILD" >/dev/null
fi
LOADGEN="$BUILD/tools/uhc-loadgen"
WORK=$(mktemp -d /tmp/uhc-bench-XXXXXX)
# The PostgreSQL cluster's directory: beside WORK, whose mode 700 would keep out the unprivileged
# user the server runs as when the bench runs as root.
PG_DIR=$(mktemp -u /tmp/uhc-bench-pg-XXXXXX)
source tests/bench/lib.sh
cleanup() {
  stop_all
  tests/bench/pg_cluster.sh stop "$PG_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

start_redis
start_services "$BUILD/enrollment-svc/enrollment-svc"
echo "bench: redis :$REDIS_PORT, enrollment :$ENROLL_PORT, classifier :$CLASSIFY_PORT" >&2

# Baseline 1: the per-event Lua ceiling: one EVALSHA per event of a small state transition
# (read the participant, write it, bump the region's count), pipelined.
SHA=$(redis-cli -p "$REDIS_PORT" script load "local v = redis.call('HGET', KEYS[1], ARGV[1]) \
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) redis.call('HINCRBY', KEYS[2], 'part', 1) return 1")
EVALSHA=$(redis-benchmark -p "$REDIS_PORT" -n "$EVALSHA_N" -c 16 -P 32 -r 1000000 -q \
  evalsha "$SHA" 2 "bench:{r}:p:__rand_int__" "bench:{r}:agg" "f__rand_int__" "v" \
  | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1)
redis-cli -p "$REDIS_PORT" eval "for _,k in ipairs(redis.call('KEYS','bench:*')) do redis.call('DEL',k) end" 0 >/dev/null
echo "bench: evalsha ceiling $EVALSHA/s" >&2

# Baseline 2: the Redis-only ceiling of exact ingest: one HGET and one HSET per event in a batched
# function, 2,000 events per call, 8 calls in flight (tests/bench/ceiling.cc). Then an empty
# keyspace again.
CEILING=$("$BUILD/tools/uhc-bench-ceiling" --redis_port "$REDIS_PORT" --events "$EVENTS")
echo "bench: $CEILING" >&2
redis-cli -p "$REDIS_PORT" flushall >/dev/null

# Ingest: the realistic mix over all 514 kab/kota, with Redis CPU per event (INFO cpu delta, the
# classifier's refreshes included), then every aggregate recounted from state.
CPU0=$(redis_cpu)
INGEST=$("$LOADGEN" --mode ingest --target "127.0.0.1:$ENROLL_PORT" --events "$EVENTS" \
  --concurrency 4 --batch 2000 --window 4)
CPU1=$(redis_cpu)
REDIS_US=$(python3 -c "print(f'{($CPU1 - $CPU0) * 1e6 / $EVENTS:.3f}')")
echo "bench: $INGEST redis_cpu_us_per_event=$REDIS_US" >&2
VERIFY=$("$LOADGEN" --mode verify --redis_port "$REDIS_PORT")
echo "bench: $VERIFY" >&2
[ "$(json "$VERIFY" mismatched_fields)" = 0 ] || { echo "aggregates drifted from state" >&2; exit 1; }

# Baseline 3: PostgreSQL 15 applying the same mix (same generator and seed) with exact
# aggregates, on one and on two connections, in a throwaway cluster on loopback; backend CPU
# from /proc. Redis and the services stay up but idle.
tests/bench/pg_cluster.sh start "$PG_DIR" >/dev/null
PG_PORT=$(cat "$PG_DIR/port")
pg_peer() { "$BUILD/tools/uhc-bench-pg" --socket_dir "$PG_DIR" --port "$PG_PORT" \
  --events "$EVENTS" --batch 2000 --connections "$1"; }
PG1=$(pg_peer 1); echo "bench: $PG1" >&2
PG2=$(pg_peer 2); echo "bench: $PG2" >&2
tests/bench/pg_cluster.sh stop "$PG_DIR"
for r in "$PG1" "$PG2"; do
  [ "$(json "$r" mismatched_fields)" = 0 ] || { echo "PostgreSQL aggregates drifted" >&2; exit 1; }
done

# Queries: the empty-RPC baseline and ours, same load generator, same settings.
unary() { "$LOADGEN" --mode unary --target "127.0.0.1:$CLASSIFY_PORT" --rpc "$1" \
  --concurrency 16 --connections 4 --seconds "$SECONDS_PER"; }
EMPTY=$(unary Health); echo "bench: $EMPTY" >&2
GET=$(unary GetRegionTier); echo "bench: $GET" >&2
LIST=$(unary ListRegionTiers); echo "bench: $LIST" >&2
FRESH=$("$LOADGEN" --mode freshness --target "127.0.0.1:$ENROLL_PORT" \
  --classifier "127.0.0.1:$CLASSIFY_PORT" --samples "$SAMPLES")
echo "bench: $FRESH" >&2

# Memory: Redis bytes per participant, enrolments only, from an empty keyspace.
for p in "${PIDS[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
PIDS=()
redis-cli -p "$REDIS_PORT" flushall >/dev/null
start_services "$BUILD/enrollment-svc/enrollment-svc"
BEFORE=$(redis-cli -p "$REDIS_PORT" info memory | grep '^used_memory:' | cut -d: -f2 | tr -d '\r')
MEM_INGEST=$("$LOADGEN" --mode ingest --target "127.0.0.1:$ENROLL_PORT" \
  --events "$MEMORY_PARTICIPANTS" --enroll_only --concurrency 4 --batch 2000 --window 4)
echo "bench: $MEM_INGEST" >&2
AFTER=$(redis-cli -p "$REDIS_PORT" info memory | grep '^used_memory:' | cut -d: -f2 | tr -d '\r')
BYTES=$(python3 -c "print(f'{($AFTER - $BEFORE) / $MEMORY_PARTICIPANTS:.1f}')")

python3 - "$EVALSHA" "$INGEST" "$EMPTY" "$GET" "$LIST" "$FRESH" "$BYTES" "$MEMORY_PARTICIPANTS" \
  "$CEILING" "$REDIS_US" "$PG1" "$PG2" <<'PY'
import json, sys
evalsha = float(sys.argv[1]); ingest, empty, get, lst, fresh = (json.loads(a) for a in sys.argv[2:7])
bytes_pp, mem_n = float(sys.argv[7]), int(sys.argv[8])
ceiling, redis_us = json.loads(sys.argv[9]), float(sys.argv[10])
pg1, pg2 = json.loads(sys.argv[11]), json.loads(sys.argv[12])
ceil_us, pg_us = ceiling["redis_cpu_us_per_event"], pg2["cpu_us_per_event"]
rows = [
  ("Redis CPU per event, us (ingest; baseline: the Redis-only ceiling)", "%.2f" % ceil_us,
   "%.2f" % redis_us, "%.2f" % (redis_us / ceil_us)),
  ("Store CPU per event, us (baseline: PostgreSQL 15 backends, 2 connections)",
   "%.2f (1 conn: %.2f)" % (pg_us, pg1["cpu_us_per_event"]), "%.2f" % redis_us,
   "%.2f" % (redis_us / pg_us)),
  ("Ingest, events/s (baseline: PostgreSQL 15 on 2 connections; 1 connection: %.0f)"
   % pg1["events_per_second"], "%.0f" % pg2["events_per_second"],
   "%.0f" % ingest["events_per_second"],
   "%.2f" % (ingest["events_per_second"] / pg2["events_per_second"])),
  ("Ingest, events/s (IngestEvents, %d events, 4 streams x 2,000-event batches)" % ingest["events"],
   "%.0f (EVALSHA per event)" % evalsha, "%.0f" % ingest["events_per_second"],
   "%.2f" % (ingest["events_per_second"] / evalsha)),
  ("GetRegionTier, calls/s (16 callers)", "%.0f (empty RPC)" % empty["calls_per_second"],
   "%.0f" % get["calls_per_second"], "%.2f" % (get["calls_per_second"] / empty["calls_per_second"])),
  ("GetRegionTier latency p50 / p99 / p99.9, ms",
   "%.2f / %.2f / %.2f" % (empty["p50_ms"], empty["p99_ms"], empty["p999_ms"]),
   "%.2f / %.2f / %.2f" % (get["p50_ms"], get["p99_ms"], get["p999_ms"]), ""),
  ("ListRegionTiers (553 regions, one page), calls/s", "%.0f (empty RPC)" % empty["calls_per_second"],
   "%.0f" % lst["calls_per_second"], "%.3f" % (lst["calls_per_second"] / empty["calls_per_second"])),
  ("ListRegionTiers latency p50 / p99 / p99.9, ms", "",
   "%.2f / %.2f / %.2f" % (lst["p50_ms"], lst["p99_ms"], lst["p999_ms"]), ""),
  ("Ack to visible in GetRegionTier, p50 / p99 ms (refresh 200 ms)", "",
   "%.0f / %.0f" % (fresh["p50_ms"], fresh["p99_ms"]), ""),
  ("Redis bytes per participant (%d participants)" % mem_n, "", "%.1f" % bytes_pp, ""),
]
print("| metric | baseline | ours | ratio |\n| --- | --- | --- | --- |")
for r in rows: print("| %s | %s | %s | %s |" % r)
PY
