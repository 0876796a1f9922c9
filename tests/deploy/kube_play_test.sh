#!/usr/bin/env bash
# Builds both service images and the Redis image (with uhc_module.so) from the Dockerfile as it is
# and runs the dev overlay with
# `podman kube play`, end to end: health, a small national dataset loaded through the RPCs with
# the overlay's token, the summary checked against it, and the containers' security settings.
# Needs root (rootful podman) and Debian 12; installs what it uses with apt-get. Leaves nothing
# running or registered. Usage: tests/deploy/kube_play_test.sh UHCCTL
#
# No registry is reachable here: debian:12 and debian:12-slim are made with mmdebstrap from the
# machine's Debian mirror and imported.
# podman 4.3 lacks some Kubernetes features: tests/deploy/kube_play_adapter.py translates them,
# minimally, and prints what it did.
set -euo pipefail
cd "$(dirname "$0")/../.."
UHCCTL=$(realpath "$1")
[ "$(id -u)" -eq 0 ] || { echo "kube play test: needs root (rootful podman); skipped"; exit 77; }
t0=$(date +%s); stage_start=$t0; timings=""
stage() {  # closes the running stage and names the next
  local now; now=$(date +%s)
  [ -n "${STAGE:-}" ] && timings+="${STAGE} $((now - stage_start))s, "
  STAGE=$1; stage_start=$now; echo "==> $1"
}

stage install
missing=()
for p in podman mmdebstrap runc uidmap netavark aardvark-dns iptables python3-yaml kubectl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# This test's own podman settings (crun fails here on setrlimit and hybrid cgroups; runc with
# explicit ulimits works): a config file of the test, never an edit under /etc.
WORK=$(mktemp -d /tmp/uhc-kube-play-XXXXXX)
cat > "$WORK/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$WORK/containers.conf"
NET=uhc-kube-play
cleanup() {
  set +e
  [ -f "$WORK/play.yaml" ] && podman kube down "$WORK/play.yaml" >/dev/null 2>&1
  for p in $(podman pod ls --format '{{.Name}}' | grep -E '^(enrollment-svc|classifier-svc|redis)(-pod-0)?$'); do
    podman pod rm -f "$p" >/dev/null  # left by an interrupted run
  done
  for s in $(podman secret ls --format '{{.Name}}' | grep '^uhc-secrets'); do podman secret rm "$s" >/dev/null; done
  # kube play keeps the volumes it made for Secrets, ConfigMaps and claims: remove them all.
  for v in $(podman volume ls -q | grep -E '^(uhc-secrets|uhc-policies|redis-data)'); do
    podman volume rm -f "$v" >/dev/null
  done
  podman network rm -f "$NET" >/dev/null 2>&1
  set -e
}
trap 'cleanup; rm -rf "$WORK"' EXIT

cleanup  # what an interrupted earlier run may have left

stage "base images"
CACHE=/var/cache/uhc-kube-play
mkdir -p "$CACHE"
if ! podman image exists localhost/debian:12; then
  [ -s "$CACHE/bookworm-minbase.tar" ] ||
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$CACHE/bookworm-minbase.tar"
  podman import -q "$CACHE/bookworm-minbase.tar" localhost/debian:12 >/dev/null
fi
for name in docker.io/library/debian:12 docker.io/library/debian:12-slim localhost/debian:12-slim; do
  podman tag localhost/debian:12 "$name"
done
stage "service images"
for svc in enrollment-svc classifier-svc redis; do
  podman build -q --pull=never --network host --target "$svc" -t "localhost/uhc/$svc:0.1.0" . >/dev/null
  podman tag "localhost/uhc/$svc:0.1.0" "docker.io/uhc/$svc:0.1.0"
  echo "$svc image: $(podman image inspect --format '{{.Size}}' "localhost/uhc/$svc:0.1.0" |
    awk '{printf "%.0f MB", $1 / 1e6}')"
done

stage "render and play"
kubectl kustomize deploy/k8s/overlays/dev > "$WORK/rendered.yaml"
python3 tests/deploy/kube_play_adapter.py "$WORK/rendered.yaml" "$WORK"
for f in "$WORK"/secret-*.json; do
  name=$(basename "$f" .json); name=${name#secret-}
  podman secret create "$name" "$f" >/dev/null
done
podman network create "$NET" >/dev/null
podman kube play --network "$NET" "$WORK/play.yaml" >/dev/null

ip_of() {  # the IP of a pod's container on the test's network
  podman inspect --format "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$1"
}
container_of() { podman ps --format '{{.Names}}' | grep "^$1-pod-.*-$1\$\|^$1-$1\$" | head -1; }
ENR=$(container_of enrollment-svc); CLS=$(container_of classifier-svc); RDS=$(container_of redis)
[ -n "$ENR" ] && [ -n "$CLS" ] || { podman ps -a; echo "FAIL: service containers not running"; exit 1; }
export UHC_ENROLLMENT_ADDR="$(ip_of "$ENR"):50051" UHC_CLASSIFIER_ADDR="$(ip_of "$CLS"):50052"
export UHC_TOKEN=dev-only-token-0123456789  # the dev overlay's throwaway token

stage "health"
ok=0
for _ in $(seq 120); do "$UHCCTL" health >/dev/null 2>&1 && { ok=1; break; }; sleep 0.5; done
if [ $ok -ne 1 ]; then
  "$UHCCTL" health || true
  for c in $(podman ps -a --format '{{.Names}}'); do echo "--- $c"; podman logs --tail 20 "$c"; done
  echo "FAIL: the services did not become SERVING"; exit 1
fi

stage "load"
"$UHCCTL" gen --out "$WORK/dataset" --scale 10000 --seed 11 >/dev/null
"$UHCCTL" population import "$WORK/dataset/population.csv" --as-of 2025-12-31 >/dev/null
"$UHCCTL" region-status --file "$WORK/dataset/region-status.csv" >/dev/null
"$UHCCTL" ingest "$WORK/dataset/events.jsonl" >/dev/null

stage "check"
# The national population is the sum of what was imported, and all 514 kab/kota are listed.
want_pop=$(awk -F, 'NR > 1 && $1 ~ /^[0-9][0-9]\.[0-9][0-9]$/ {s += $2} END {print s}' "$WORK/dataset/population.csv")
for _ in $(seq 50); do
  have_pop=$("$UHCCTL" tier ID --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metrics"]["population"])')
  [ "$have_pop" = "$want_pop" ] && break; sleep 0.2
done
[ "$have_pop" = "$want_pop" ] || { echo "FAIL: national population $have_pop, loaded $want_pop"; exit 1; }
regencies=$("$UHCCTL" tiers --level regency --format csv | tail -n +2 | wc -l)
[ "$regencies" = 514 ] || { echo "FAIL: $regencies kab/kota listed, not 514"; exit 1; }
# The summary's national tier counts add up to every kab/kota.
summary=$("$UHCCTL" summary)
counted=$(echo "$summary" | awk '/^  kab\/kota \(514\)/ {s = 0; for (i = 3; i <= NF; i++) s += $i; print s}')
[ "$counted" = 514 ] || { echo "$summary" | head -5; echo "FAIL: the summary counts $counted kab/kota"; exit 1; }
# The events went through the module's command (the image loads uhc_module.so), not the function.
applied=$(podman exec "$RDS" redis-cli info commandstats | tr -d '\r' |
  awk -F'[:=,]' '$1 == "cmdstat_uhc.apply_v4" {print $3}')
[ "${applied:-0}" -gt 0 ] || { echo "FAIL: Redis served no uhc.apply_v4 (module not used)"; exit 1; }
# The containers run as the manifests say: uid 10001 (Redis 999), read-only root, no capabilities.
for c in "$ENR" "$CLS"; do
  uid=$(podman exec "$c" id -u)
  ro=$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$c")
  caps=$(podman inspect --format '{{.EffectiveCaps}}' "$c")
  [ "$uid" = 10001 ] && [ "$ro" = true ] && { [ "$caps" = "[]" ] || [ -z "$caps" ]; } ||
    { echo "FAIL: $c runs as uid $uid, read-only root $ro, capabilities $caps"; exit 1; }
done

stage done
echo "kube play: images built, dev overlay played, SERVING, dataset loaded (national population $want_pop, 514 kab/kota) through uhc.apply_v3 ($applied calls), uid/read-only/no-caps verified; ${timings%, }; total $(( $(date +%s) - t0 ))s"
