#!/usr/bin/env bash
# Benchmark: scene detection beside PySceneDetect (ContentDetector, AdaptiveDetector) and FFmpeg's
# scdet on the same files in one run: precision/recall/F1 against known transitions and wall time.
# Inputs: the test montage (10 real shots, 5 cuts, 3 dissolves, 1 fade; 640x360), the same scaled to
# 1080p, and the real montage clip video_street_bikes_4cuts.mp4 (5 cuts at frames 30 76 137 187 242).
# Times are the median of RUNS runs (default 3).
# Usage: bash bench/scenes.sh   (needs .venv-tools: bash scripts/test-tools.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p kino-node -p kino-tests --bins
BIN=$PWD/target/release/kino-node
PY=$PWD/.venv-tools/bin/python
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

"$PWD/target/release/kino-montage" > "$W/montage.txt"
M=$(head -1 "$W/montage.txt")
cp "$M" "$W/montage.mp4"
rm -rf "$(dirname "$M")"
tail -n +2 "$W/montage.txt" > "$W/montage.truth"
ffmpeg -v error -y -i "$W/montage.mp4" -vf scale=1920:1080:flags=lanczos -c:v libx264 -preset fast -crf 18 -g 50 "$W/montage1080.mp4"
cp "$W/montage.truth" "$W/montage1080.truth"
BIKES=../shared/media/video_street_bikes_4cuts.mp4
if [ -f "$BIKES" ]; then
  cp "$BIKES" "$W/bikes.mp4"
  printf '30 30\n76 76\n137 137\n187 187\n242 242\n' > "$W/bikes.truth"
fi

now() { date +%s.%N; }
# Prints "P R F1" of the frames on stdin against truth file $1 (a detection within a transition,
# or 2 frames of it, matches it once).
score() {
  python3 -c '
import sys
truth = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
found = [int(v) for v in sys.stdin.read().split()]
used = [False] * len(truth); hits = 0
for f in found:
    for k, (a, b) in enumerate(truth):
        if not used[k] and f + 2 >= a and f <= b + 2:
            used[k] = True; hits += 1; break
p = hits / len(found) if found else 0.0
r = hits / len(truth)
f1 = 2 * p * r / (p + r) if p + r else 0.0
print(f"P {p:.2f} R {r:.2f} F1 {f1:.2f}")' "$1"
}
frames() { ffprobe -v error -select_streams v -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1"; }
fps_of() { python3 -c "import sys; print(f'{int(sys.argv[1])/float(sys.argv[2]):.0f}')" "$@"; }
# Runs "$@" (stdout to $OUT) RUNS times and prints the median wall time in seconds.
RUNS=${RUNS:-3}
median_time() {
  local ts=()
  for _ in $(seq "$RUNS"); do
    local a b; a=$(now); "$@" > "$OUT"; b=$(now)
    ts+=("$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$a" "$b")")
  done
  python3 -c "import sys, statistics; print(statistics.median(map(float, sys.argv[1:])))" "${ts[@]}"
}
pysd() { "$PY" -c "
import sys
from scenedetect import detect, $1
print(' '.join(str(a.frame_num) for a, _ in detect(sys.argv[1], $1())[1:]))" "$2"; }
scdet_frames() { ffmpeg -nostats -i "$1" -vf scdet=threshold=10 -f null - 2>&1 | grep -o 'lavfi.scd.time: [0-9.]*' | awk '{printf "%d ", $2*25+0.5}'; }

for name in montage montage1080 bikes; do
  V="$W/$name.mp4"
  [ -f "$V" ] || continue
  N=$(frames "$V")
  echo "== $name: $N frames, $(ffprobe -v error -select_streams v -show_entries stream=width,height -of csv=s=x:p=0 "$V")"
  OUT="$W/k.json"; K_FPS=$(fps_of "$N" "$(median_time "$BIN" scenes "$V" --json)")
  echo "kino:                   $(python3 -c 'import json,sys; print(" ".join(str(s["start_frame"]) for s in json.load(open(sys.argv[1]))["scenes"][1:]))' "$W/k.json" | score "$W/$name.truth"), $K_FPS fps"
  for det in ContentDetector AdaptiveDetector; do
    OUT="$W/p.txt"; P_FPS=$(fps_of "$N" "$(median_time pysd "$det" "$V")")
    printf 'pyscenedetect %-9s %s, %s fps (kino %sx)\n' "${det%Detector}:" "$(score "$W/$name.truth" < "$W/p.txt")" "$P_FPS" "$(python3 -c "print(f'{$K_FPS/$P_FPS:.1f}')")"
  done
  OUT="$W/s.txt"; S_FPS=$(fps_of "$N" "$(median_time scdet_frames "$V")")
  echo "ffmpeg scdet:           $(score "$W/$name.truth" < "$W/s.txt"), $S_FPS fps (kino $(python3 -c "print(f'{$K_FPS/$S_FPS:.1f}')")x)"
done
