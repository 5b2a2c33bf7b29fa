#!/usr/bin/env bash
# Benchmark: target-quality encoding (issue 20). For each input and target, renders with
# --target-quality, then with the fixed CRF whose worst chunk meets the same target (the lowest CRF
# the search chose per chunk), and prints both sizes, the size saved, the render times and the
# time spent probing and measuring (from the report's target_quality section).
# Usage: bash bench/target-quality.sh [PRESET]   (default: fast)
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET="${1:-fast}"
BIN="${KINO_BIN:-target/release/kino-node}"
[ -x "$BIN" ] || cargo build --release -p kino-node
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
MEDIA=../shared/media
BIKES="$MEDIA/video_street_bikes_4cuts.mp4"
[ -f "$BIKES" ] || { ffmpeg -v error -f lavfi -i testsrc2=size=640x272:rate=25:duration=10 -c:v libx264 "$W/bikes.mp4"; BIKES="$W/bikes.mp4"; }
COCKATOO="$MEDIA/video_cockatoo_handheld_shaky.mp4"
if [ -f "$COCKATOO" ]; then
  ffmpeg -v error -i "$COCKATOO" -vf scale=1920:1080:flags=lanczos -c:v libx264 -crf 12 -preset fast "$W/hd.mp4"
else
  ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=25:duration=10 -c:v libx264 -crf 12 "$W/hd.mp4"
fi
printf '| input | codec | target | CRFs chosen | target file | fixed CRF file | saved | render (target / fixed) | probing + measuring |\n|---|---|---|---|---|---|---|---|---|\n'
run() { # input label codec target
  local in="$1" label="$2" codec="$3" target="$4" ext=mp4
  [ "$codec" = vp9 ] && ext=webm
  local t0 t1 t2
  t0=$(date +%s.%N)
  "$BIN" render "$in" -o "$W/t.$ext" --codec "$codec" --preset "$PRESET" --data-dir "$W/d1" \
    --target-quality "$target" --quality off --report "$W/r.json" >/dev/null 2>&1
  t1=$(date +%s.%N)
  local crfs fixed probe
  crfs=$(python3 -c "import json;print(' '.join(str(c['crf']) for c in json.load(open('$W/r.json'))['target_quality']['chunks']))")
  probe=$(python3 -c "import json;print('%.1f' % json.load(open('$W/r.json'))['target_quality']['seconds'])")
  fixed=$(echo "$crfs" | tr ' ' '\n' | sort -n | head -1)
  t1b=$(date +%s.%N)
  "$BIN" render "$in" -o "$W/f.$ext" --codec "$codec" --preset "$PRESET" --data-dir "$W/d2" \
    --crf "$fixed" --quality off >/dev/null 2>&1
  t2=$(date +%s.%N)
  local a b
  a=$(stat -c %s "$W/t.$ext"); b=$(stat -c %s "$W/f.$ext")
  python3 -c "
a,b=$a,$b; tt=$t1-$t0; tf=$t2-$t1b
print(f'| $label | $codec | $target | $crfs | {a/1e6:.2f} MB | {b/1e6:.2f} MB (CRF $fixed) | {100*(1-a/b):.0f} % | {tt:.1f} s / {tf:.1f} s | $probe s |')"
  rm -rf "$W/d1" "$W/d2" "$W/t.$ext" "$W/f.$ext"
}
run "$BIKES" "bikes 640×272, 250 frames" h264 psnr=42
run "$BIKES" "bikes 640×272, 250 frames" h264 ssimulacra2=80
run "$BIKES" "bikes 640×272, 250 frames" h265 psnr=42
run "$W/hd.mp4" "cockatoo 1920×1080, 280 frames" h264 psnr=42
run "$W/hd.mp4" "cockatoo 1920×1080, 280 frames" h265 psnr=42
