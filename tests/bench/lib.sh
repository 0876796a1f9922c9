# Shell helpers of the benches (run_bench.sh, ingest_efficiency.sh, history_cost.sh, pair.sh): a
# fresh Redis, both services on it, one measured ingest. Source it after setting BUILD (build dir),
# WORK (a scratch dir) and, optionally, PIN_STORE / PIN_REST (arrays: a taskset prefix for Redis
# and for the rest; empty when unpinned).
# shellcheck shell=bash

PIDS=() REDIS_PORT="" ENROLL_PORT="" CLASSIFY_PORT=""
[ -v PIN_STORE ] || PIN_STORE=()
[ -v PIN_REST ] || PIN_REST=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Stops the services and Redis started by the functions below.
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
  [ -z "$REDIS_PORT" ] || redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

# Redis's CPU seconds so far (user + sys).
redis_cpu() {
  redis-cli -p "$REDIS_PORT" info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'
}

# A fresh Redis on a free port (REDIS_PORT), as the benches configure it, with this build's
# uhc_module.so loaded (enrollment-svc then applies with it, --apply_engine auto) unless
# BENCH_MODULE=no (benches comparing Lua libraries or older builds), and the C floor
# (tools/uhc_bench_floor.so) when built; returns once it answers.
start_redis() {
  REDIS_PORT=$(free_port)
  local module=()
  if [ "${BENCH_MODULE:-yes}" = yes ]; then
    [ -f "$BUILD/enrollment-svc/module/uhc_module.so" ] ||
      { echo "bench: no $BUILD/enrollment-svc/module/uhc_module.so (build target uhc_module)" >&2; return 1; }
    module=(--loadmodule "$(realpath "$BUILD/enrollment-svc/module/uhc_module.so")")
  fi
  # The C floor (uhc-bench-ceiling --floor): BENCH_FLOOR_SO, or this build's when it has it.
  local floor="${BENCH_FLOOR_SO:-$BUILD/tools/uhc_bench_floor.so}"
  [ ! -f "$floor" ] || module+=(--loadmodule "$(realpath "$floor")")
  "${PIN_STORE[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK" --save "" \
    --appendonly no --hash-max-listpack-entries 1024 --hash-max-listpack-value 192 --daemonize yes \
    --logfile "$WORK/redis.log" "${module[@]}"
  for _ in $(seq 200); do [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done
  echo "bench: redis did not start (log: $WORK/redis.log)" >&2
  return 1
}

# enrollment-svc ($1: its binary; further arguments are its extra flags) and this build's
# classifier-svc on REDIS_PORT; returns once both report healthy.
start_services() {
  local binary="$1"
  shift
  ENROLL_PORT=$(free_port) CLASSIFY_PORT=$(free_port)
  UHC_NIK_HMAC_SECRET=bench-secret-0123456789abcdef-012 "${PIN_REST[@]}" "$binary" "$@" \
    --listen "127.0.0.1:$ENROLL_PORT" --plaintext --metrics_port -1 --redis_port "$REDIS_PORT" \
    --bucket_bits "${BENCH_BUCKET_BITS:-5}" --redis_threads 4 >/dev/null 2>"$WORK/enrollment.log" </dev/null &
  PIDS+=($!)
  "${PIN_REST[@]}" "$BUILD/classifier-svc/classifier-svc" --listen "127.0.0.1:$CLASSIFY_PORT" \
    --plaintext --metrics_port -1 --redis_port "$REDIS_PORT" >/dev/null 2>"$WORK/classifier.log" </dev/null &
  PIDS+=($!)
  for _ in $(seq 600); do
    UHC_ENROLLMENT_ADDR=127.0.0.1:$ENROLL_PORT UHC_CLASSIFIER_ADDR=127.0.0.1:$CLASSIFY_PORT \
      "$BUILD/tools/uhcctl" health >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "bench: services not ready (logs: $WORK)" >&2
  return 1
}

# Ingests $1 events of the realistic mix (4 streams x 2,000-event batches, window 4) through the
# running enrollment-svc and prints "<Redis CPU seconds it took> <uhc-loadgen's JSON line>".
measured_ingest() {
  local cpu0 cpu1 ingest
  cpu0=$(redis_cpu)
  ingest=$("${PIN_REST[@]}" "$BUILD/tools/uhc-loadgen" --mode ingest --target "127.0.0.1:$ENROLL_PORT" \
    --events "$1" --concurrency 4 --batch 2000 --window 4)
  cpu1=$(redis_cpu)
  echo "$(python3 -c "print($cpu1 - $cpu0)") $ingest"
}
