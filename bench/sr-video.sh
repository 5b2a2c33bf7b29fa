#!/usr/bin/env bash
# Benchmark: neural upscaling of a video end to end (decode, stages, encode, chunks in parallel, as
# a user's render runs), beside FFmpeg's Lanczos on the same input in the same run. The input is
# 2 s of the handheld cockatoo clip at 640×360 (FFmpeg's mandelbrot when ../shared/media is absent);
# both encode with x264 ultrafast, CRF 18. Chunks of 0.5 s (keyframes every 15 frames), so the
# default two chunk workers of one inference thread each run side by side; SPAN also runs as one
# worker of two threads (`--jobs 1`) to compare. Prints wall time, output frames per second, and the
# neural result's PSNR against Lanczos (how different the two are, not a quality score).
# Usage: bash bench/sr-video.sh   (SECONDS_OF_VIDEO=N for another length)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p kino-node
BIN=$PWD/target/release/kino-node
export KINO_MODELS_DIR=$PWD/models
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
LEN=${SECONDS_OF_VIDEO:-2}
SRC=../shared/media/video_cockatoo_handheld_shaky.mp4
if [ -f "$SRC" ]; then
  ffmpeg -v error -i "$SRC" -t "$LEN" -vf scale=640:360 -an -c:v libx264 -crf 16 -g 15 "$W/in.mp4"
else
  ffmpeg -v error -f lavfi -i "mandelbrot=size=640x360:rate=30" -t "$LEN" -c:v libx264 -crf 16 -g 15 "$W/in.mp4"
fi
FRAMES=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$W/in.mp4")
echo "== $FRAMES frames of 640x360, $(nproc) cores"

# Prints "label: S s, F fps" for a command's wall time.
timed() {
  local label=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$FRAMES" \
    'BEGIN { printf "%-26s %7.1f s  %6.3f fps\n", l, b - a, n / (b - a) }'
}
psnr() {
  ffmpeg -v info -i "$1" -i "$2" -lavfi psnr -f null - 2>&1 | sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' | tail -1
}
# The network alone on one frame of the same input (RGB in and out, two threads), in this run: what
# the render's frames per second should approach.
ffmpeg -v error -i "$W/in.mp4" -frames:v 1 "$W/frame.png"
per_frame() {
  "$BIN" upscale "$W/frame.png" -o "$W/up.png" --model "$1" --factor "$2" --threads 2 --repeat 3 2>&1 |
    sort -n | head -1 | awk -v l="$1 x$2, one frame" '{ printf "%-26s %7.0f ms  %6.3f fps (best of 3)\n", l, $1, 1000 / $1 }'
}
per_frame span 2
per_frame fast 4
timed "ffmpeg lanczos x2" ffmpeg -v error -y -i "$W/in.mp4" -vf scale=1280:720:flags=lanczos \
  -c:v libx264 -preset ultrafast -crf 18 "$W/lanczos2.mp4"
timed "kino span x2" "$BIN" render "$W/in.mp4" -o "$W/span2.mp4" --data-dir "$W/data" \
  --preset ultrafast --crf 18 --chunk-seconds 0.5 --stage scale:factor=2,model=span
timed "kino span x2, --jobs 1" "$BIN" render "$W/in.mp4" -o "$W/span2j1.mp4" --data-dir "$W/data" \
  --preset ultrafast --crf 18 --chunk-seconds 0.5 --jobs 1 --stage scale:factor=2,model=span
echo "   span x2 vs lanczos: $(psnr "$W/span2.mp4" "$W/lanczos2.mp4") dB"
timed "ffmpeg lanczos x4" ffmpeg -v error -y -i "$W/in.mp4" -vf scale=2560:1440:flags=lanczos \
  -c:v libx264 -preset ultrafast -crf 18 "$W/lanczos4.mp4"
timed "kino fast x4" "$BIN" render "$W/in.mp4" -o "$W/fast4.mp4" --data-dir "$W/data" \
  --preset ultrafast --crf 18 --chunk-seconds 0.5 --stage scale:factor=4,model=fast
echo "   fast x4 vs lanczos: $(psnr "$W/fast4.mp4" "$W/lanczos4.mp4") dB"
