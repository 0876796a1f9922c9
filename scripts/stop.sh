#!/usr/bin/env bash
# Stops what scripts/run.sh started (SIGTERM: the services drain, then exit) and waits for it.
cd "$(dirname "$0")/.."
pids=()
for name in enrollment-svc classifier-svc redis; do
  if [ -f "run/$name.pid" ]; then
    pid=$(cat "run/$name.pid")
    kill "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "run/$name.pid"
  fi
done
for pid in "${pids[@]}"; do
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
echo "stopped"
