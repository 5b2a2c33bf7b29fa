#!/usr/bin/env bash
# Benchmark: what the resource sampler costs (issue 21's target: under 1 % of one core). A fresh
# release node reads its resources every SECONDS (default 5, the node's default); the script measures
# the node's whole process CPU (/proc/PID/stat) while idle for IDLE seconds, and, while a 1080p job
# renders, the sampler's own rounds (kino_sampler_seconds_total: their wall time, an upper bound on
# their CPU) against the wall time. Usage: bash bench/sampler.sh [SECONDS=5] [IDLE=120]
set -euo pipefail
cd "$(dirname "$0")/.."
EVERY=${1:-5}; IDLE=${2:-120}
cargo build -q --release -p kino-node
W=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
./target/release/kino-node serve --listen 127.0.0.1:0 --data-dir "$W/data" --sample-seconds "$EVERY" > "$W/out" 2>"$W/err" &
PID=$!
for _ in $(seq 50); do grep -q listening "$W/out" 2>/dev/null && break; sleep 0.1; done
BASE=$(awk '{print $NF}' "$W/out")
HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
sampler() { curl -s "$BASE/metrics" | awk '$1 == "kino_sampler_seconds_total" {print $2}'; }
now() { date +%s.%N; }
report() { # label, cpu ticks before/after, sampler seconds before/after, wall before/after
  python3 -c 'import sys
l, c0, c1, s0, s1, t0, t1, hz = sys.argv[1:]
wall = float(t1) - float(t0)
cpu = (float(c1) - float(c0)) / float(hz)
samp = float(s1) - float(s0)
print(f"{l}: {wall:.0f} s; node process CPU {100 * cpu / wall:.3f} % of one core; sampler rounds {1000 * samp:.1f} ms = {100 * samp / wall:.4f} % of one core")' "$@" "$HZ"
}
sleep 3
C0=$(cpu); S0=$(sampler); T0=$(now)
sleep "$IDLE"
C1=$(cpu); S1=$(sampler); T1=$(now)
report "idle, a reading every $EVERY s" "$C0" "$C1" "$S0" "$S1" "$T0" "$T1"
ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=25:duration=40" -c:v libx264 -preset ultrafast -g 50 "$W/in.mp4"
LEN=$(stat -c %s "$W/in.mp4")
LOC=$(curl -s -i -X POST -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $LEN" "$BASE/api/uploads" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
curl -s -X PATCH -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" -H "Content-Type: application/offset+octet-stream" -T "$W/in.mp4" "$BASE$LOC"
C0=$(cpu); S0=$(sampler); T0=$(now)
JOB=$(curl -s -X POST "$BASE/api/jobs" -H 'Content-Type: application/json' \
  -d "{\"input\":\"${LOC##*/}\",\"stages\":[{\"kind\":\"denoise\",\"strength\":1.0}],\"output\":{\"preset\":\"ultrafast\"}}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
while :; do
  STATE=$(curl -s "$BASE/api/jobs/$JOB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  case "$STATE" in done|failed|cancelled) break;; esac
  sleep 1
done
C1=$(cpu); S1=$(sampler); T1=$(now)
report "rendering 1080p denoise ($STATE), a reading every $EVERY s" "$C0" "$C1" "$S0" "$S1" "$T0" "$T1"
echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
