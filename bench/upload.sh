#!/usr/bin/env bash
# Benchmark: tus upload throughput on loopback and the node's peak RSS for a 4 GiB upload
# (one POST + one streamed PATCH with curl). Usage: bash bench/upload.sh [SIZE_GIB]
set -euo pipefail
cd "$(dirname "$0")/.."
GIB=${1:-4}
cargo build -q --release -p kino-node
W=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
./target/release/kino-node serve --listen 127.0.0.1:0 --data-dir "$W/data" > "$W/out" 2>"$W/err" &
PID=$!
for _ in $(seq 50); do grep -q listening "$W/out" 2>/dev/null && break; sleep 0.1; done
BASE=$(awk '{print $NF}' "$W/out")
# Random-looking data without spending minutes making it: 64 MiB of urandom (kept in RAM) repeated
# and streamed straight into curl, so only the node's writes touch the disk.
BLOCK=$(mktemp -p /dev/shm)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W" "$BLOCK"' EXIT
head -c $((64 << 20)) /dev/urandom > "$BLOCK"
payload() { for _ in $(seq $((GIB * 16))); do cat "$BLOCK"; done; }
LEN=$((GIB * 16 * (64 << 20)))
SHA_FILE=$(payload | sha256sum | cut -d' ' -f1)
sync
LOC=$(curl -s -i -X POST -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $LEN" "$BASE/api/uploads" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
RSS0=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
CPU0=$(awk '{print $14" "$15}' /proc/$PID/stat)
START=$(date +%s.%N)
curl -s -o /dev/null -w "%{http_code}" -X PATCH -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" \
  -H "Content-Type: application/offset+octet-stream" -H "Content-Length: $LEN" -T - "$BASE$LOC" < <(payload) > "$W/code"
END=$(date +%s.%N)
HWM=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
CPU1=$(awk '{print $14" "$15}' /proc/$PID/stat)
awk -v a="$CPU0" -v b="$CPU1" -v hz="$(getconf CLK_TCK)" 'BEGIN{split(a,x," ");split(b,y," ");printf "node CPU during the upload: user %.2f s, system %.2f s\n",(y[1]-x[1])/hz,(y[2]-x[2])/hz}'
SHA_NODE=$(curl -s "$BASE$LOC" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')
python3 - "$START" "$END" "$LEN" "$RSS0" "$HWM" "$(cat "$W/code")" "$SHA_NODE" "$SHA_FILE" <<'PY'
import sys
start, end, length, rss0, hwm, code, a, b = sys.argv[1:]
secs = float(end) - float(start)
print(f"upload of {int(length)/2**30:.1f} GiB over loopback: HTTP {code}, {secs:.2f} s, {int(length)/secs/1e6:.0f} MB/s")
print(f"node RSS before {int(rss0)/1024:.0f} MiB, peak {int(hwm)/1024:.0f} MiB; sha256 matches: {a == b}")
PY
