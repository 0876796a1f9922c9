#!/usr/bin/env bash
# What a restore takes (DEPLOY.md "Backups, RPO and RTO"), measured on this machine: the demo's
# national dataset (uhcctl gen, 1:SCALE) loaded through the RPCs with a cut-off, then
#   - the logical export (uhc-backup export): seconds and bytes;
#   - an RDB over the network (redis-cli --rdb): seconds and bytes;
#   - a new Redis loading that RDB until it answers PING: seconds (and MB/s of RDB);
#   - the export imported into an empty Redis: seconds;
#   - the events replayed into that Redis through enrollment-svc: seconds and events/s.
# Usage: tests/bench/restore_bench.sh [--scale N] [--build-dir DIR]. Redis, the services and
# uhcctl share the machine's cores. Prints one line per figure.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=1000 BUILD=build-release
while (($#)); do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "restore_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/uhc-restore-XXXXXX)
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
trap 'stop_all; rm -rf "$WORK"' EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
uhcctl() {
  UHC_ENROLLMENT_ADDR=127.0.0.1:$ENROLL_PORT UHC_CLASSIFIER_ADDR=127.0.0.1:$CLASSIFY_PORT \
    "$BUILD/tools/uhcctl" "$@"
}

start_redis
start_services "$BUILD/enrollment-svc/enrollment-svc"
FIRST_DAY=$(TZ=Asia/Jakarta date -d "$(date +%Y-%m-01) -15 months" +%F)
"$BUILD/tools/uhcctl" gen --out "$WORK/dataset" --scale "$SCALE" --seed 2026 --months 15 --late 5 >/dev/null
uhcctl population import "$WORK/dataset/population.csv" --as-of "$FIRST_DAY" >/dev/null
uhcctl region-status --file "$WORK/dataset/region-status.csv" --effective "$FIRST_DAY" >/dev/null
uhcctl ingest "$WORK/dataset/events.jsonl" >/dev/null
uhcctl cutoff create restore-bench --as-of "$(TZ=Asia/Jakarta date -d "$(date +%Y-%m-01) -1 day" +%F)" >/dev/null
events=$(wc -l < "$WORK/dataset/events.jsonl")
used=$(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ {print $2+0}')
echo "dataset: 1:$SCALE, $events events, Redis used_memory $used bytes"

t0=$(now)
"$BUILD/tools/uhc-backup" export --redis_port "$REDIS_PORT" --out "$WORK/export.jsonl" 2>"$WORK/export.log"
t1=$(now)
echo "export: $(secs "$t0" "$t1") s, $(stat -c %s "$WORK/export.jsonl") bytes ($(cat "$WORK/export.log"))"
t0=$(now)
redis-cli -p "$REDIS_PORT" --rdb "$WORK/backup.rdb" >/dev/null 2>&1
t1=$(now)
rdb=$(stat -c %s "$WORK/backup.rdb")
echo "rdb over the network: $(secs "$t0" "$t1") s, $rdb bytes"
stop_all

# A new Redis loading the RDB.
mkdir -p "$WORK/restored"
cp "$WORK/backup.rdb" "$WORK/restored/dump.rdb"
port=$(free_port)
t0=$(now)
redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/restored" --dbfilename dump.rdb \
  --appendonly no --save "" --daemonize yes --logfile "$WORK/restored/redis.log" \
  --loadmodule "$(realpath "$BUILD/enrollment-svc/module/uhc_module.so")"
until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do sleep 0.01; done
t1=$(now)
echo "rdb load: $(secs "$t0" "$t1") s to PONG ($(python3 -c "print(f'{$rdb / 1e6 / ($t1 - $t0):.0f}')") MB/s of RDB)"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true

# The export into an empty Redis, then the events replayed.
start_redis
t0=$(now)
"$BUILD/tools/uhc-backup" import --redis_port "$REDIS_PORT" "$WORK/export.jsonl" 2>/dev/null
t1=$(now)
echo "import: $(secs "$t0" "$t1") s"
start_services "$BUILD/enrollment-svc/enrollment-svc"
t0=$(now)
uhcctl ingest "$WORK/dataset/events.jsonl" >/dev/null
t1=$(now)
echo "replay: $(secs "$t0" "$t1") s, $(python3 -c "print(f'{$events / ($t1 - $t0):.0f}')") events/s (uhcctl ingest, one stream)"
