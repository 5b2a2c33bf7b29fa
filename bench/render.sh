#!/usr/bin/env bash
# Benchmark: `kino-node render` (no enhancement) against `ffmpeg -c:v libx264 -preset P -crf 20 -c:a copy`
# on the same input, run alternately, median of N runs: time ratio and peak RSS. Then peak RSS of a
# 4K render. Usage: bash bench/render.sh [PRESET] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-medium}
RUNS=${2:-3}
command -v /usr/bin/time >/dev/null || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq time >/dev/null; }
cargo build -q --release -p kino-node
BIN=$PWD/target/release/kino-node
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# 1080p, 12 s, with film-like grain so the encoder has real work, and AAC audio to copy.
ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=25:duration=12,noise=alls=12:allf=t" \
  -f lavfi -i "sine=frequency=440:duration=12" -c:v libx264 -preset veryfast -crf 16 -g 50 -c:a aac -shortest "$W/in1080.mp4"

measure() { # label cmd... -> prints "seconds maxrss_kb"
  /usr/bin/time -f "%e %M" -o "$W/t" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  cat "$W/t"
}
: > "$W/kino"; : > "$W/ff"
for i in $(seq "$RUNS"); do
  rm -rf "$W/data"
  measure "$BIN" render "$W/in1080.mp4" -o "$W/k.mp4" --preset "$PRESET" --crf 20 --data-dir "$W/data" >> "$W/kino"
  measure ffmpeg -v error -y -i "$W/in1080.mp4" -c:v libx264 -preset "$PRESET" -crf 20 -c:a copy "$W/f.mp4" >> "$W/ff"
done
python3 - "$W" "$PRESET" <<'PY'
import statistics, sys
w, preset = sys.argv[1], sys.argv[2]
k = [tuple(map(float, l.split())) for l in open(f"{w}/kino")]
f = [tuple(map(float, l.split())) for l in open(f"{w}/ff")]
mk, mf = statistics.median(t for t, _ in k), statistics.median(t for t, _ in f)
print(f"1080p 12 s, preset {preset}, {len(k)} runs each, alternating")
print(f"  kino-node render : median {mk:.2f} s  peak RSS {max(r for _, r in k)/1024:.0f} MiB  runs {[t for t, _ in k]}")
print(f"  ffmpeg libx264   : median {mf:.2f} s  peak RSS {max(r for _, r in f)/1024:.0f} MiB  runs {[t for t, _ in f]}")
print(f"  time ratio kino/ffmpeg: {mk/mf:.3f}")
PY
for f in k f; do
  echo "  $f.mp4: $(ffprobe -v error -show_entries format=size -of csv=p=0 "$W/$f.mp4") bytes, PSNR vs input: $(ffmpeg -v info -i "$W/$f.mp4" -i "$W/in1080.mp4" -lavfi psnr -f null - 2>&1 | grep -o 'average:[0-9.]*')"
done
# 4K: peak RSS must stay bounded whatever the length.
ffmpeg -v error -y -f lavfi -i "testsrc2=size=3840x2160:rate=25:duration=8,noise=alls=8:allf=t" -c:v libx264 -preset ultrafast -g 50 "$W/in4k.mp4"
rm -rf "$W/data"
read -r t4 r4 < <(measure "$BIN" render "$W/in4k.mp4" -o "$W/k4.mp4" --preset "$PRESET" --crf 20 --data-dir "$W/data")
echo "4K 8 s render: ${t4} s, peak RSS $((r4/1024)) MiB"
