#!/usr/bin/env bash
# Ingest on Redis Cluster, with its baseline measured in the same run: the same load generator and
# the same events into (1) one standalone Redis, (2) a Redis Cluster of 3 primaries with one
# replica each, (3) that cluster with --redis_wait_replicas 1. After each, every aggregate is
# recounted from the participant records (uhc-loadgen --mode verify) and must match.
# Redis nodes, enrollment-svc and the load generator all share this machine's cores, so a cluster
# cannot show scale-out here: the ratios show what per-region calls and WAIT cost.
# Usage: tests/bench/run_cluster_bench.sh [--smoke] [--build-dir DIR] [--events N]
set -euo pipefail
cd "$(dirname "$0")/../.."
SMOKE=0 BUILD=build-release EVENTS=1000000
while (($#)); do
  case "$1" in
    --smoke) SMOKE=1; EVENTS=20000; shift ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    --events) EVENTS="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run_cluster_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if ((SMOKE)); then
  [ -x "$BUILD/tools/uhc-loadgen" ] || scripts/setup.sh RelWithDebInfo "$BUILD" >/dev/null
else
  scripts/setup.sh Release "$BUILD" >/dev/null
fi
LOADGEN="$BUILD/tools/uhc-loadgen"
WORK=$(mktemp -d /tmp/uhc-cluster-bench-XXXXXX)
# Free ports whose cluster bus port (+10000) is free too, both below the ephemeral range, where
# no outgoing connection (of the tests beside this one) can take them before Redis binds them.
PORTS=($(python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
out = []
while len(out) < 9:
    p = random.randrange(10000, max(low - 10000, 10100))
    if p not in out and free(p) and free(p + 10000): out.append(p)
print(" ".join(map(str, out)))
PY
))
STANDALONE=${PORTS[6]} ENROLL_PORT=${PORTS[7]} CLASSIFY_PORT=${PORTS[8]} NODES=("${PORTS[@]:0:6}")
PIDS=()
stop_services() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_services
  for p in "$STANDALONE" "${NODES[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

start_redis() {  # port, extra args...
  local port=$1; shift
  mkdir -p "$WORK/$port"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/$port" --save "" --appendonly no \
    --hash-max-listpack-entries 1024 --hash-max-listpack-value 192 --daemonize yes \
    --logfile "$WORK/$port/redis.log" --loadmodule "$(realpath "$BUILD/enrollment-svc/module/uhc_module.so")" "$@"
  for _ in $(seq 200); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done
  echo "bench: redis on $port did not start; its log:" >&2; tail -5 "$WORK/$port/redis.log" >&2; exit 1
}

# Both services (uhcctl health wants both; the classifier's 200 ms refresh is a small load).
start_services() {  # redis port, extra flags for enrollment-svc...
  local port=$1; shift
  local cluster=()
  [[ " $* " == *" --redis_cluster "* ]] && cluster=(--redis_cluster)
  UHC_NIK_HMAC_SECRET=bench-secret-0123456789abcdef-012 "$BUILD/enrollment-svc/enrollment-svc" \
    --listen "127.0.0.1:$ENROLL_PORT" --plaintext --metrics_port -1 --redis_port "$port" \
    --bucket_bits 5 --redis_threads 4 "$@" >/dev/null 2>>"$WORK/enrollment.log" </dev/null &
  PIDS+=($!)
  "$BUILD/classifier-svc/classifier-svc" --listen "127.0.0.1:$CLASSIFY_PORT" --plaintext \
    --metrics_port -1 --redis_port "$port" "${cluster[@]}" >/dev/null 2>>"$WORK/classifier.log" </dev/null &
  PIDS+=($!)
  for _ in $(seq 600); do
    UHC_ENROLLMENT_ADDR=127.0.0.1:$ENROLL_PORT UHC_CLASSIFIER_ADDR=127.0.0.1:$CLASSIFY_PORT \
      "$BUILD/tools/uhcctl" health >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "bench: the services did not become ready (logs: $WORK)" >&2; exit 1
}

# CPU seconds (user + sys) Redis processes on these ports have used so far.
redis_cpu() {
  for p in "$@"; do redis-cli -p "$p" info cpu; done | tr -d '\r' |
    awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.3f", s}'
}

# Prints "events/s primary-CPU-us/event replica-CPU-us/event".
ingest_and_verify() {  # label, redis port, verify flags...
  local label=$1 port=$2; shift 2
  local result verify primaries=() replicas=() p0 p1 r0 r1
  for p in "$STANDALONE" "${NODES[@]}"; do
    redis-cli -p "$p" ping >/dev/null 2>&1 || continue
    if redis-cli -p "$p" info replication | grep -q role:slave; then replicas+=("$p"); else primaries+=("$p"); fi
  done
  p0=$(redis_cpu "${primaries[@]}") r0=$(redis_cpu "${replicas[@]}")
  result=$("$LOADGEN" --mode ingest --target "127.0.0.1:$ENROLL_PORT" --events "$EVENTS" \
    --concurrency 4 --batch 2000 --window 4)
  p1=$(redis_cpu "${primaries[@]}") r1=$(redis_cpu "${replicas[@]}")
  verify=$("$LOADGEN" --mode verify --redis_port "$port" "$@")
  echo "bench: $label: $result $verify primaries ${primaries[*]} cpu $p0->$p1 s, replicas cpu $r0->$r1 s" >&2
  [ "$(json "$verify" mismatched_fields)" = 0 ] || { echo "bench: $label: aggregates drifted" >&2; exit 1; }
  python3 -c "import sys; e=int(sys.argv[1]); print(sys.argv[2], (float(sys.argv[4])-float(sys.argv[3]))*1e6/e, (float(sys.argv[6])-float(sys.argv[5]))*1e6/e)" \
    "$EVENTS" "$(json "$result" events_per_second)" "$p0" "$p1" "${r0:-0}" "${r1:-0}"
}

# (1) Baseline: one standalone Redis.
start_redis "$STANDALONE"
start_services "$STANDALONE"
BASE=$(ingest_and_verify standalone "$STANDALONE")
stop_services
redis-cli -p "$STANDALONE" shutdown nosave >/dev/null 2>&1 || true

# (2) and (3): 3 primaries + 3 replicas.
for p in "${NODES[@]}"; do
  start_redis "$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --repl-diskless-sync-delay 0
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${NODES[@]}") --cluster-replicas 1 \
  --cluster-yes >"$WORK/create.log" 2>&1 || { cat "$WORK/create.log" >&2; exit 1; }
for _ in $(seq 600); do
  ok=1 linked=0
  for p in "${NODES[@]}"; do
    redis-cli -p "$p" cluster info | grep -q cluster_state:ok || ok=0
    redis-cli -p "$p" info replication | grep -q master_link_status:up && linked=$((linked + 1))
  done
  ((linked == 3)) || ok=0
  ((ok)) && redis-cli --cluster check "127.0.0.1:${NODES[0]}" 2>&1 | grep -q "All 16384 slots covered" && break
  sleep 0.1
done
start_services "${NODES[0]}" --redis_cluster
CLUSTER=$(ingest_and_verify cluster "${NODES[0]}" --redis_cluster)
stop_services
redis-cli --cluster call "127.0.0.1:${NODES[0]}" FLUSHALL >/dev/null 2>&1 || true
start_services "${NODES[0]}" --redis_cluster --redis_wait_replicas 1
WAITED=$(ingest_and_verify "cluster+WAIT" "${NODES[0]}" --redis_cluster)

python3 - "$EVENTS" "$BASE" "$CLUSTER" "$WAITED" <<'PY'
import sys
n = int(sys.argv[1])
base, cluster, waited = ([float(x) for x in a.split()] for a in sys.argv[2:5])
print("| ingest, %d events (4 streams x 2,000-event batches) | events/s | vs standalone "
      "| Redis primaries' CPU, us/event | replicas' CPU, us/event |" % n)
print("| --- | --- | --- | --- | --- |")
for name, r in (("standalone Redis (baseline)", base),
                ("Redis Cluster, 3 primaries + 3 replicas", cluster),
                ("the same, --redis_wait_replicas 1", waited)):
    print("| %s | %.0f | %.2f | %.2f | %.2f |" % (name, r[0], r[0] / base[0], r[1], r[2]))
PY
