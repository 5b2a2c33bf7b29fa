#!/usr/bin/env bash
# Benchmark: farm throughput. One job on a serving node pinned to one core (taskset), then the same
# job with a second node (a worker) pinned to the other core; both on a PostgreSQL of their own
# (unpinned, sharing the machine) and one data folder. Prints both times and the ratio.
# Usage: bash bench/farm.sh [SECONDS=12]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-12}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cargo build -q --release -p kino-node
KINO=$PWD/target/release/kino-node
W=$(mktemp -d /tmp/kino-farm-XXXX)
AS=()
if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$W"; AS=(runuser -u postgres --); fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${AS[@]}" "$BIN/initdb" -D "$W/pg" -A trust -U kino -E UTF8 >/dev/null
"${AS[@]}" "$BIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w start -o "-p $PORT -k $W -c listen_addresses=127.0.0.1" >/dev/null
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; "${AS[@]}" "$BIN/pg_ctl" -D "$W/pg" -m fast -w stop >/dev/null; rm -rf "$W"; }
trap cleanup EXIT
ffmpeg -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$SECS,noise=alls=8:allf=t" \
  -c:v libx264 -preset veryfast -crf 18 -g 25 "$W/in.mp4"

# run NAME WORKERS: a fresh database and folder, a serving node on core 0 (and a worker on core 1),
# one job; prints its seconds.
run() {
  local db=run$1 data=$W/data-$1
  "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U kino -d postgres -qc "CREATE DATABASE $db"
  local url="postgres://kino@127.0.0.1:$PORT/$db"
  mkdir -p "$data"
  taskset -c 0 "$KINO" serve --listen 127.0.0.1:0 --db "$url" --data-dir "$data" --name main --workers 1 \
    > "$W/serve-$1.out" 2> "$W/serve-$1.log" & PIDS+=($!)
  if [ "$2" = 2 ]; then
    taskset -c 1 "$KINO" worker --db "$url" --data-dir "$data" --name second --workers 1 2> "$W/worker-$1.log" & PIDS+=($!)
  fi
  until grep -qs listening "$W/serve-$1.out"; do sleep 0.2; done
  local base; base=$(awk '{print $NF}' "$W/serve-$1.out" | head -1)
  python3 - "$base" "$W/in.mp4" <<'PY'
import base64, json, os, sys, time, urllib.request
base, path = sys.argv[1], sys.argv[2]
def req(method, url, body=None, headers={}):
    r = urllib.request.Request(base + url, data=body, method=method, headers=headers)
    return urllib.request.urlopen(r)
size = os.path.getsize(path)
r = req("POST", "/api/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(size),
        "Upload-Metadata": "filename " + base64.b64encode(b"in.mp4").decode()})
loc = r.headers["Location"]
req("PATCH", loc, open(path, "rb").read(), {"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
    "Content-Type": "application/offset+octet-stream"})
spec = {"input": loc.rsplit("/", 1)[1], "chunk_seconds": 1,
        "stages": [{"kind": "sharpen"}, {"kind": "denoise"}], "output": {"preset": "medium", "crf": 20}}
t = time.time()
job = json.load(req("POST", "/api/jobs", json.dumps(spec).encode(), {"Content-Type": "application/json"}))
while True:
    j = json.load(req("GET", "/api/jobs/" + job["id"]))
    if j["state"] in ("done", "failed", "cancelled"):
        break
    time.sleep(0.2)
assert j["state"] == "done", j
rep = json.load(req("GET", "/api/jobs/" + job["id"] + "/report"))
nodes = sorted({(c.get("worker") or "?").split(":")[0] for c in rep["chunks"]})
print(f"{time.time() - t:.2f} {'+'.join(nodes)}")
PY
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; PIDS=()
  sleep 1
}
echo "$(nproc) cores; 1280x720 ${SECS}s, sharpen + denoise, x264 medium, 1 s chunks"
one=$(run 1 1); echo "one node, one core:        $one s"
two=$(run 2 2); echo "two nodes, one core each:  $two s"
python3 -c "import sys; a=float('$one'.split()[0]); b=float('$two'.split()[0]); print(f'throughput ratio {a/b:.2f}x')"
