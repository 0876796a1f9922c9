#!/usr/bin/env bash
# Paired comparison of apply libraries, batch by batch (uhc-bench-apply-ab): one fresh Redis per
# library, all on one CPU when pinned; the same batches of the realistic mix go to each in turn,
# so this machine's drift (tens of percent between minutes) hits them alike. Then the verify pass
# recounts every region of each (and fails if this build's library is not exact). One JSON line
# per library, the first is the reference.
# Usage: tests/bench/ab.sh [--events N] [--batch N] [--build-dir DIR] [--pin] LIBRARY[@PART]...
#   LIBRARY: `built` (this build's uhc_v3), `module` (uhc.apply_v3 of this build's uhc_module.so)
#   or a .lua file loaded over uhc_v3 (bench use only);
#   @PART: apply each batch to it in parts of PART events (e.g. built@4000 built@8000).
#   defaults: 1,000,000 events, batches of 8,000 (a full group of enrollment-svc), build-release.
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=1000000 BATCH=8000 BUILD=build-release PIN_STORE=() PIN_REST=() LIBS=()
while (($#)); do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    --pin) PIN_STORE=(taskset -c 1) PIN_REST=(taskset -c 0); shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "ab.sh: unknown argument $1" >&2; exit 2 ;;
    *) LIBS+=("$1"); shift ;;
  esac
done
((${#LIBS[@]})) || { echo "ab.sh: name at least one library (see --help)" >&2; exit 2; }
[ -x "$BUILD/tools/uhc-bench-apply-ab" ] || scripts/setup.sh Release "$BUILD" >/dev/null
WORK=$(mktemp -d /tmp/uhc-ab-XXXXXX)
source tests/bench/lib.sh
PORTS=()
cleanup() {
  for p in "${PORTS[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in "${LIBS[@]}"; do
  start_redis
  PORTS+=("$REDIS_PORT")
done
join() { local IFS=,; echo "$*"; }
SPLITS=()
for lib in "${LIBS[@]}"; do
  if [[ "$lib" == *@* ]]; then SPLITS+=("${lib##*@}"); else SPLITS+=("$BATCH"); fi
done
"${PIN_REST[@]}" "$BUILD/tools/uhc-bench-apply-ab" --redis_ports "$(join "${PORTS[@]}")" \
  --libraries "$(join "${LIBS[@]%@*}")" --split "$(join "${SPLITS[@]}")" --events "$EVENTS" \
  --batch "$BATCH"
status=0
for k in "${!PORTS[@]}"; do
  verify=$("$BUILD/tools/uhc-loadgen" --mode verify --redis_port "${PORTS[$k]}" || true)
  echo "${LIBS[$k]} verify: $verify"
  # This build's library must stay exact; a variant may be wrong on purpose.
  if [[ "${LIBS[$k]%@*}" =~ ^(built|module)$ ]] && [[ "$verify" != *'"mismatched_fields":0}'* ]]; then
    echo "ab.sh: the built library's aggregates do not match its records" >&2
    status=1
  fi
done
exit $status
