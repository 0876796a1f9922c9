#!/usr/bin/env bash
# Whether the bucket layout holds a kab/kota of the country's size compactly (issue #31 item 4):
# enrols PARTICIPANTS people, all in one kab/kota (default 32.01, Kabupaten Bogor, 5,809,790
# residents in data/population-2025.csv), with --bucket_bits BITS, then reports Redis bytes per
# participant and the encoding of sampled bucket hashes (listpack = compact). Run it at 1:1 with
# the production bits (14) and at a small scale with the bits that give the same density; the
# bytes per participant should agree.
# Usage: tests/bench/bucket_density.sh PARTICIPANTS BITS [--region CODE] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
PARTICIPANTS=$1 BITS=$2; shift 2
REGION=32.01 BUILD=build-release
while (($#)); do
  case "$1" in
    --region) REGION="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    *) echo "bucket_density: unknown argument $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/uhc-density-XXXXXX)
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
trap 'stop_all; rm -rf "$WORK"' EXIT
start_redis
BENCH_BUCKET_BITS=$BITS start_services "$BUILD/enrollment-svc/enrollment-svc"
used() { redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ {print $2+0}'; }
before=$(used)
"$BUILD/tools/uhc-loadgen" --mode ingest --target "127.0.0.1:$ENROLL_PORT" --events "$PARTICIPANTS" \
  --enroll_only --region "$REGION" --concurrency 4 --batch 2000 --window 4 >"$WORK/ingest.json"
after=$(used)
python3 - "$REDIS_PORT" "$REGION" "$PARTICIPANTS" "$BITS" "$before" "$after" "$WORK/ingest.json" <<'PY'
import json, random, subprocess, sys
port, region, n, bits, before, after, ingest = sys.argv[1:]
n, bits, before, after = int(n), int(bits), int(before), int(after)
cli = lambda *a: subprocess.run(["redis-cli", "-p", port, *a], capture_output=True, text=True).stdout.strip()
random.seed(7)
buckets = random.sample(range(1 << bits), min(200, 1 << bits))
enc, sizes = {}, []
for b in buckets:
    key = "uhc:{%s}:p:%x" % (region, b)
    e = cli("object", "encoding", key) or "missing"
    enc[e] = enc.get(e, 0) + 1
    sizes.append(int(cli("hlen", key) or 0))
rate = json.load(open(ingest)).get("events_per_second")
print(f"{region}: {n} participants, bucket_bits {bits} ({n / (1 << bits):.0f} a bucket on average, "
      f"sampled max {max(sizes)}), {(after - before) / n:.1f} Redis bytes per participant, "
      f"sampled bucket encodings {enc}, ingest {rate} events/s")
PY
