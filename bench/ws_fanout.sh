#!/usr/bin/env bash
# Runs bench/ws_fanout.py against a fresh release node with a job rendering. Usage: bash bench/ws_fanout.sh [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import websockets' 2>/dev/null || python3 -m pip install -q websockets
cargo build -q --release -p kino-node
W=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
./target/release/kino-node serve --listen 127.0.0.1:0 --data-dir "$W/data" --max-jobs 1 > "$W/out" 2>"$W/err" &
PID=$!
for _ in $(seq 50); do grep -q listening "$W/out" 2>/dev/null && break; sleep 0.1; done
BASE=$(awk '{print $NF}' "$W/out")
ffmpeg -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=60" -c:v libx264 -preset ultrafast -g 50 "$W/in.mp4"
LEN=$(stat -c %s "$W/in.mp4")
LOC=$(curl -s -i -X POST -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $LEN" "$BASE/api/uploads" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
curl -s -X PATCH -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" -H "Content-Type: application/offset+octet-stream" -T "$W/in.mp4" "$BASE$LOC"
python3 bench/ws_fanout.py "$BASE" "${LOC##*/}" "${1:-200}" 40
