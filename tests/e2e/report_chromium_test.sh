#!/usr/bin/env bash
# uhcctl report --html as a browser shows it: starts Redis and both services on loopback, loads a
# small national dataset (1:20000), writes the report, and has headless Chromium render it: the
# DOM holds 514 kab/kota and 38 province shapes, and a screenshot is drawn (kept in
# $REPORT_ARTIFACTS when set, e.g. to look at it). Without /usr/bin/chromium it exits 77
# (skipped; scripts/test.sh installs chromium and fails on the skip).
# Usage: tests/e2e/report_chromium_test.sh [--build-dir DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=build
while (($#)); do
  case "$1" in
    --build-dir) BUILD="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "report_chromium_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  # 77: ctest reports the test skipped, never passed; scripts/test.sh fails on the skip.
  echo "SKIPPED report_chromium: $CHROMIUM is not installed (apt-get install chromium)"
  exit 77
fi

UHCCTL="$BUILD/tools/uhcctl"
WORK=$(mktemp -d /tmp/uhc-report-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port) ENROLL_PORT=$(free_port) CLASSIFY_PORT=$(free_port)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done; exit 1; }

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK" --save "" --appendonly no \
  --daemonize yes --logfile "$WORK/redis.log"
for _ in $(seq 200); do
  [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
  sleep 0.05
done
UHC_NIK_HMAC_SECRET=report-test-secret-0123456789abcdef "$BUILD/enrollment-svc/enrollment-svc" \
  --listen "127.0.0.1:$ENROLL_PORT" --plaintext --metrics_port -1 --redis_port "$REDIS_PORT" \
  >/dev/null 2>"$WORK/enrollment.log" </dev/null &
PIDS+=($!)
"$BUILD/classifier-svc/classifier-svc" --listen "127.0.0.1:$CLASSIFY_PORT" --plaintext \
  --metrics_port -1 --redis_port "$REDIS_PORT" >/dev/null 2>"$WORK/classifier.log" </dev/null &
PIDS+=($!)
export UHC_ENROLLMENT_ADDR=127.0.0.1:$ENROLL_PORT UHC_CLASSIFIER_ADDR=127.0.0.1:$CLASSIFY_PORT
ready=0
for _ in $(seq 600); do
  "$UHCCTL" health >/dev/null 2>&1 && { ready=1; break; }
  sleep 0.05
done
((ready)) || fail "the services did not become ready"

"$UHCCTL" gen --out "$WORK/dataset" --scale 20000 --seed 2026 >/dev/null || fail "gen"
"$UHCCTL" population import "$WORK/dataset/population.csv" --as-of 2025-12-31 >/dev/null ||
  fail "population import"
"$UHCCTL" region-status --file "$WORK/dataset/region-status.csv" >/dev/null || fail "region-status"
"$UHCCTL" ingest "$WORK/dataset/events.jsonl" >/dev/null || fail "ingest"
# The report reads the snapshot the classifier holds; wait until it counts what was ingested.
LOADED_MS=$(date +%s%3N)
"$UHCCTL" summary --closest 0 --fresh-after-ms "$LOADED_MS" >/dev/null || fail "summary"
"$UHCCTL" report --html "$WORK/report.html" --data-dir data >/dev/null || fail "report"

# Each Chromium run gets its own profile in WORK and is bounded in time.
chromium() {
  timeout 120 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
    --no-first-run --disable-extensions "$@" 2>>"$WORK/chromium.log"
}
chromium --screenshot="$WORK/report.png" --window-size=1400,2000 "file://$WORK/report.html" \
  >/dev/null || fail "chromium --screenshot"
chromium --dump-dom "file://$WORK/report.html" >"$WORK/dom.html" || fail "chromium --dump-dom"

status=0
check() {  # check DESCRIPTION ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then echo "ok $1"; else echo "FAIL $1: got $2, want $3"; status=1; fi
}
check "kab/kota shapes in the rendered DOM" "$(grep -o '<path class="kabkota' "$WORK/dom.html" | wc -l)" 514
check "province shapes in the rendered DOM" "$(grep -o '<path class="province' "$WORK/dom.html" | wc -l)" 38
check "kab/kota shapes with a hover title" \
  "$(grep -o '<path class="kabkota[^>]*><title>[^<]' "$WORK/dom.html" | wc -l)" 514
check "a legend above each map" "$(grep -o 'class="legend"' "$WORK/dom.html" | wc -l)" 2
check "no script, nothing fetched" "$(grep -c -E '<script|https?://' "$WORK/dom.html" || true)" 0
size=$(stat -c %s "$WORK/report.png" 2>/dev/null || echo 0)
check "screenshot larger than 20 KB" "$((size > 20000))" 1
check "screenshot is a 1400x2000 PNG" "$(python3 -c '
import struct, sys
head = open(sys.argv[1], "rb").read(24)
print("%dx%d" % struct.unpack(">II", head[16:24]) if head[:8] == b"\x89PNG\r\n\x1a\n" else "not a PNG")
' "$WORK/report.png")" 1400x2000
if [ -n "${REPORT_ARTIFACTS:-}" ]; then
  mkdir -p "$REPORT_ARTIFACTS"
  cp "$WORK/report.html" "$WORK/report.png" "$REPORT_ARTIFACTS/"
fi
((status == 0)) || fail "see above"
echo "ok report_chromium (screenshot $((size / 1024)) KB)"
