#!/usr/bin/env bash
# Benchmark: the farm's queue alone. A PostgreSQL of its own (Debian's package, initdb + pg_ctl in a
# temporary folder, durability settings left on: fsync and synchronous_commit as shipped), then
# simulated workers claim, heartbeat and finish chunks, one chunk per claim (node/examples/queue_bench.rs).
# Usage: bash bench/queue.sh [WORKERS=200] [CHUNKS=100000] [CONNECTIONS=50]
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-200}; CHUNKS=${2:-100000}; CONNECTIONS=${3:-50}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cargo build -q --release -p kino-node --example queue_bench
W=$(mktemp -d /tmp/kino-queue-XXXX)
AS=()
if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$W"; AS=(runuser -u postgres --); fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${AS[@]}" "$BIN/initdb" -D "$W/data" -A trust -U kino -E UTF8 >/dev/null
"${AS[@]}" "$BIN/pg_ctl" -D "$W/data" -l "$W/log" -w start \
  -o "-p $PORT -k $W -c listen_addresses=127.0.0.1 -c max_connections=$((CONNECTIONS + 20))" >/dev/null
trap '"${AS[@]}" "$BIN/pg_ctl" -D "$W/data" -m fast -w stop >/dev/null; rm -rf "$W"' EXIT
"$BIN/psql" -h 127.0.0.1 -p "$PORT" -U kino -d postgres -qc "CREATE DATABASE queue"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}'), fsync $("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U kino -d queue -Atc 'SHOW fsync'), synchronous_commit $("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U kino -d queue -Atc 'SHOW synchronous_commit'), $(nproc) cores"
target/release/examples/queue_bench "postgres://kino@127.0.0.1:$PORT/queue" "$WORKERS" "$CHUNKS" "$CONNECTIONS"
