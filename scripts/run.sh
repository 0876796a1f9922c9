#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts Redis and both services on loopback,
# loads a synthetic national dataset (fifteen months of events) through the real RPCs, freezes a
# cut-off three months back and prints the national picture and where to look at the past.
# Leaves everything running; `scripts/stop.sh` stops it.
# Usage: scripts/run.sh [--scale N] [--seed N]   (defaults: 1:1000, seed 2026)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=1000 SEED=2026 MONTHS=15
while (($#)); do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Only what the demo runs: the services and uhcctl, not the tests (scripts/test.sh builds those).
scripts/setup.sh Release build-release enrollment-svc classifier-svc uhcctl uhc_module
BIN=build-release
RUN=run
REDIS_PORT=${UHC_REDIS_PORT:-6390}
mkdir -p "$RUN"
scripts/stop.sh >/dev/null 2>&1 || true

echo "==> starting redis-server on 127.0.0.1:$REDIS_PORT (AOF on, data in $RUN/redis, uhc_module.so loaded)"
mkdir -p "$RUN/redis"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$PWD/$RUN/redis" --daemonize yes \
  --pidfile "$PWD/$RUN/redis.pid" --logfile "$PWD/$RUN/redis.log" --appendonly yes \
  --appendfsync everysec --save "" --hash-max-listpack-entries 1024 --hash-max-listpack-value 192 \
  --loadmodule "$PWD/$BIN/enrollment-svc/module/uhc_module.so"  # enrollment-svc applies with it
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

# The days the demo's past hangs on, in WIB (the programme's calendar): FIRST_DAY, the 1st of
# the month the events begin in (uhcctl gen spreads them over the MONTHS months before today),
# and CUTOFF_DAY, the end of the month three months back, frozen as CUTOFF_ID.
demo_dates() {
  local month
  month=$(TZ=Asia/Jakarta date +%Y-%m-01)
  FIRST_DAY=$(TZ=Asia/Jakarta date -d "$month -$MONTHS months" +%F)
  CUTOFF_DAY=$(TZ=Asia/Jakarta date -d "$month -2 months -1 day" +%F)
  CUTOFF_ID=demo-${CUTOFF_DAY:0:7}
}
demo_dates

echo "==> generating the national dataset (1:$SCALE, seed $SEED, $MONTHS months of events)"
# 5 % of the events arrive late and out of order, as BPJS's feeds do: the figures are those of an
# in-order delivery of the same seed (the answers depend on the events, not their order).
"$UHCCTL" gen --out "$RUN/dataset" --scale "$SCALE" --seed "$SEED" --months "$MONTHS" --late 5
echo "==> loading it through the RPCs"
# Population and status hold from the first day of the events: the registered population of
# the end of 2024 stands for the whole period (a day before its as-of date would count 0
# residents), and the status is what the dataset was drawn with (before its effective date a
# region would hold no UHC Prioritas, hence no tier).
"$UHCCTL" population import "$RUN/dataset/population.csv" --as-of "$FIRST_DAY"
"$UHCCTL" region-status --file "$RUN/dataset/region-status.csv" --effective "$FIRST_DAY"
"$UHCCTL" ingest "$RUN/dataset/events.jsonl"
LOADED_MS=$(date +%s%3N)
"$UHCCTL" cutoff create "$CUTOFF_ID" --as-of "$CUTOFF_DAY" \
  --description "Demo: every region as of the end of $CUTOFF_DAY"
"$UHCCTL" report --html "$RUN/report.html" >/dev/null
"$UHCCTL" awards --policy uhc-awards-2026 --cutoff "$CUTOFF_ID" \
  --html "$RUN/awards-$CUTOFF_ID.html" >/dev/null
echo
echo "==> the national picture"
"$UHCCTL" summary --fresh-after-ms "$LOADED_MS"

# Where the past shows: a kab/kota that rose since the cut-off (the largest rise, then the first
# code) and the kab/kota per tier at the cut-off against now.
"$UHCCTL" tiers --view basic --format csv >"$RUN/tiers-now.csv"
"$UHCCTL" tiers --cutoff "$CUTOFF_ID" --view basic --format csv >"$RUN/tiers-$CUTOFF_ID.csv"
{ read -r REGION; read -r STORY; read -r COUNTS; } < <(python3 - "$RUN/tiers-$CUTOFF_ID.csv" \
  "$RUN/tiers-now.csv" <<'PY'
import csv, sys
tiers = ["utama", "madya", "pratama", "none"]
name = lambda tier: "no tier" if tier == "none" else "UHC " + tier.capitalize()
then, now = ({r["region_code"]: r for r in csv.DictReader(open(f))} for f in sys.argv[1:])
kabs = sorted(c for c in now if "." in c)
rose = min(kabs, key=lambda c: (tiers.index(now[c]["tier"]) - tiers.index(then[c]["tier"]), c))
print(rose)
print("%s: %s at the cut-off, %s now" % (now[rose]["region_name"], name(then[rose]["tier"]),
                                         name(now[rose]["tier"])))
count = lambda rows: [sum(rows[c]["tier"] == t for c in kabs) for t in tiers]
print("%d Utama, %d Madya, %d Pratama, %d none (now %d, %d, %d, %d)" % tuple(count(then) + count(now)))
PY
)
echo
echo "The past: the events span the $MONTHS months before today, and cut-off $CUTOFF_ID holds every"
echo "region as it stood at the end of $CUTOFF_DAY (WIB)."
printf '  %-44s %s\n' "uhcctl trend $REGION" "$STORY" \
  "uhcctl tier $REGION --as-of $CUTOFF_DAY" "the same kab/kota as it stood that day"
echo "  uhcctl awards --policy uhc-awards-2026 --cutoff $CUTOFF_ID [--html FILE]"
echo "      the award list then, kab/kota: $COUNTS"
cat <<TXT

uhcctl is $UHCCTL. Services are still running (logs in $RUN/, metrics on :9101 and :9102,
report with 12-month trends in $RUN/report.html, the cut-off's awards in
$RUN/awards-$CUTOFF_ID.html).
Stop them with: scripts/stop.sh
TXT
