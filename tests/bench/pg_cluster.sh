#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the ingest benchmark (uhc-bench-pg), Debian's binaries.
#   tests/bench/pg_cluster.sh start DIR   creates DIR (must be absent or empty), initdb, starts
#                                         the server on 127.0.0.1:<free port> with its socket in
#                                         DIR; prints PGHOST=.. PGPORT=.. PGUSER=.. PGDATABASE=..
#                                         (also in DIR/env). Already running: prints them again.
#   tests/bench/pg_cluster.sh stop DIR    stops the server and removes DIR (only a DIR this
#                                         script made); nothing there: does nothing.
# Or source it and call pg_cluster_start / pg_cluster_stop DIR. Settings match the bench's Redis,
# which runs without persistence: fsync, synchronous_commit and full_page_writes off, minimal
# WAL, no checkpoints during a run. As root the server runs as the unprivileged user
# $PG_BENCH_USER (default nobody), DIR owned by it; nothing outside DIR is changed.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_BENCH_USER=${PG_BENCH_USER:-nobody}
PG_SHARED_BUFFERS=${PG_SHARED_BUFFERS:-1GB}
PG_CLUSTER_MARK=.uhc-pg-cluster

# Runs a command as the server's user.
_pg_as() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid="$PG_BENCH_USER" --regid="$(id -g "$PG_BENCH_USER")" --clear-groups -- "$@"
  else
    "$@"
  fi
}

_pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

_pg_env() {
  echo "PGHOST=$1"
  echo "PGPORT=$(cat "$1/port")"
  echo "PGUSER=uhc"
  echo "PGDATABASE=postgres"
}

pg_cluster_start() (
  set -euo pipefail
  local dir=${1:?usage: pg_cluster_start DIR}
  if [ -f "$dir/$PG_CLUSTER_MARK" ] && [ -f "$dir/port" ] &&
    _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    _pg_env "$dir" | tee "$dir/env"
    return 0
  fi
  if [ -e "$dir" ] && [ ! -f "$dir/$PG_CLUSTER_MARK" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "pg_cluster: $dir exists and is not empty; refusing to use it" >&2
    return 1
  fi
  [ -x "$PG_BIN/initdb" ] || { echo "pg_cluster: no $PG_BIN/initdb (scripts/setup.sh installs postgresql-15)" >&2; return 1; }
  # A half-made cluster from an earlier failure goes first.
  [ -f "$dir/$PG_CLUSTER_MARK" ] && pg_cluster_stop "$dir"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  touch "$dir/$PG_CLUSTER_MARK"
  trap 'pg_cluster_stop "$dir"' ERR
  if [ "$(id -u)" -eq 0 ]; then
    chown "$PG_BENCH_USER:$(id -g "$PG_BENCH_USER")" "$dir"
    chmod 700 "$dir"
    _pg_as test -w "$dir" || { echo "pg_cluster: $PG_BENCH_USER cannot reach $dir" >&2; false; }
  fi
  _pg_as "$PG_BIN/initdb" -D "$dir/data" -U uhc --auth=trust --encoding=UTF8 --locale=C \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; false; }
  echo "include = 'uhc_bench.conf'" >>"$dir/data/postgresql.conf"
  local started=0 port
  for _ in 1 2 3; do  # a free port can be taken before the server binds it
    port=$(_pg_free_port)
    cat >"$dir/data/uhc_bench.conf" <<CONF
# tests/bench/pg_cluster.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 20
shared_buffers = $PG_SHARED_BUFFERS
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 8GB
checkpoint_timeout = 1h
CONF
    chmod 644 "$dir/data/uhc_bench.conf"
    if _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
      started=1
      break
    fi
  done
  ((started)) || { cat "$dir/server.log" >&2; false; }
  echo "$port" >"$dir/port"
  _pg_env "$dir" | tee "$dir/env"
)

pg_cluster_stop() (
  set -uo pipefail
  local dir=${1:?usage: pg_cluster_stop DIR}
  [ -e "$dir" ] || return 0
  if [ ! -f "$dir/$PG_CLUSTER_MARK" ]; then
    echo "pg_cluster: $dir was not made by pg_cluster.sh; not removing it" >&2
    return 1
  fi
  if [ -f "$dir/data/postmaster.pid" ]; then
    _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || {
      # pg_ctl could not stop it: the postmaster we started, by its pid.
      pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null)
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
      sleep 1
    }
  fi
  rm -rf "$dir"
)

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    start) pg_cluster_start "${2:?usage: pg_cluster.sh start DIR}" ;;
    stop) pg_cluster_stop "${2:?usage: pg_cluster.sh stop DIR}" ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
fi
