#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts Redis and both services on loopback,
# loads a synthetic national dataset through the real RPCs and prints the national picture.
# Leaves everything running; `scripts/stop.sh` stops it.
# Usage: scripts/run.sh [--scale N] [--seed N]   (defaults: 1:1000, seed 2026)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=1000 SEED=2026
while (($#)); do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Only what the demo runs: the services and uhcctl, not the tests (scripts/test.sh builds those).
scripts/setup.sh Release build-release enrollment-svc classifier-svc uhcctl
BIN=build-release
RUN=run
REDIS_PORT=${UHC_REDIS_PORT:-6390}
mkdir -p "$RUN"
scripts/stop.sh >/dev/null 2>&1 || true

echo "==> starting redis-server on 127.0.0.1:$REDIS_PORT (AOF on, data in $RUN/redis)"
mkdir -p "$RUN/redis"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$PWD/$RUN/redis" --daemonize yes \
  --pidfile "$PWD/$RUN/redis.pid" --logfile "$PWD/$RUN/redis.log" --appendonly yes \
  --appendfsync everysec --save "" --hash-max-listpack-entries 1024 --hash-max-listpack-value 64
for _ in $(seq 300); do [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" flushall >/dev/null  # a fresh national run every time

# The NIK pseudonymisation secret: generated once per checkout, never committed.
[ -s "$RUN/nik-hmac.secret" ] || head -c 32 /dev/urandom | base64 > "$RUN/nik-hmac.secret"
chmod 600 "$RUN/nik-hmac.secret"

export UHC_REDIS_PORT=$REDIS_PORT
echo "==> starting enrollment-svc (127.0.0.1:50051) and classifier-svc (127.0.0.1:50052)"
"$BIN/enrollment-svc/enrollment-svc" --listen 127.0.0.1:50051 --plaintext --metrics_port 9101 \
  --hmac_secret_file "$RUN/nik-hmac.secret" >/dev/null 2>"$RUN/enrollment-svc.log" </dev/null &
echo $! > "$RUN/enrollment-svc.pid"
"$BIN/classifier-svc/classifier-svc" --listen 127.0.0.1:50052 --plaintext --metrics_port 9102 \
  >/dev/null 2>"$RUN/classifier-svc.log" </dev/null &
echo $! > "$RUN/classifier-svc.pid"
UHCCTL="$BIN/tools/uhcctl"
for _ in $(seq 100); do "$UHCCTL" health >/dev/null 2>&1 && break; sleep 0.1; done
"$UHCCTL" health

echo "==> three published cases, evaluated offline (uhcctl evaluate --help)"
# One line each: the case, the tier the policy gives, the tier that was reported.
seed_case() {
  local label=$1 reported=$2; shift 2
  "$UHCCTL" evaluate "$@" | python3 -c 'import json, sys
d = json.load(sys.stdin)
print("  %-52s -> %-8s (reported: %s)" % (sys.argv[1], d["tier"] or "none", sys.argv[2]))' \
    "$label" "$reported"
}
seed_case "Kab. Banyuasin, 2026: 98 % / 85 % / pemda 10 %" madya --policy uhc-awards-2026 \
  --population 100000 --participants 98000 --active 85000 --pemda-registered 10000 \
  --uhc-prioritas --dues-paid-through 2025-09
seed_case "Prov. Banten, 2026: 98 % / 80 % / pemda 5 %" pratama --policy uhc-awards-2026 \
  --population 100000 --participants 98000 --active 80000 --pemda-registered 5000 \
  --uhc-prioritas --dues-paid-through 2025-09
seed_case "Kab. Batu Bara, pre-2025 rule: coverage 95.07 %" "uhc, held since December 2023" --policy uhc-2023 \
  --population 10000 --participants 9507 --active 6000 --pemda-registered 0

echo "==> generating the national dataset (1:$SCALE, seed $SEED)"
"$UHCCTL" gen --out "$RUN/dataset" --scale "$SCALE" --seed "$SEED"
echo "==> loading it through the RPCs"
"$UHCCTL" population import "$RUN/dataset/population.csv" --as-of 2025-12-31
"$UHCCTL" region-status --file "$RUN/dataset/region-status.csv"
"$UHCCTL" ingest "$RUN/dataset/events.jsonl"
LOADED_MS=$(date +%s%3N)
"$UHCCTL" report --html "$RUN/report.html" >/dev/null
echo
echo "==> the national picture"
"$UHCCTL" summary --fresh-after-ms "$LOADED_MS"
cat <<TXT

uhcctl is $UHCCTL. Services are still running (logs in $RUN/, metrics on :9101 and :9102,
report in $RUN/report.html).
Stop them with: scripts/stop.sh
TXT
