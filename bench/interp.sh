#!/usr/bin/env bash
# Benchmark: frame interpolation ×2 end to end (decode, RIFE, encode, chunks in parallel, as a
# user's render runs) beside FFmpeg's minterpolate (mci, aobmc, bidir) and framerate (blend) on the
# same input in the same run, at 640×360 and 1280×720. The input is 1 s of the handheld cockatoo
# clip (FFmpeg's testsrc2 when ../shared/media is absent); all encode with x264 ultrafast, CRF 18.
# Prints wall time and output frames per second, and each result's PSNR against Kino's (how far the
# two disagree, not a quality score: the tests measure quality on dropped frames).
# Usage: bash bench/interp.sh   (SECONDS_OF_VIDEO=N for another length)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p kino-node
BIN=$PWD/target/release/kino-node
export KINO_MODELS_DIR=$PWD/models
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
LEN=${SECONDS_OF_VIDEO:-1}
SRC=../shared/media/video_cockatoo_handheld_shaky.mp4
X264=(-c:v libx264 -preset ultrafast -crf 18)

timed() {
  local label=$1 frames=$2
  shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$frames" \
    'BEGIN { printf "%-34s %7.1f s  %6.2f fps\n", l, b - a, n / (b - a) }'
}
psnr() {
  ffmpeg -v info -i "$1" -i "$2" -lavfi psnr -f null - 2>&1 | sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' | tail -1
}
for size in 640x360 1280x720; do
  if [ -f "$SRC" ]; then
    ffmpeg -v error -y -i "$SRC" -t "$LEN" -vf "scale=${size/x/:}" -an -c:v libx264 -crf 16 -g 13 "$W/in.mp4"
  else
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=$size:rate=25" -t "$LEN" -c:v libx264 -crf 16 -g 13 "$W/in.mp4"
  fi
  RATE=$(ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 "$W/in.mp4")
  OUT=$(awk -v r="$RATE" 'BEGIN { split(r, a, "/"); printf "%d/%d", 2 * a[1], a[2] }')
  N=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$W/in.mp4")
  echo "== $size, $N frames at $RATE -> $OUT, $(nproc) cores"
  timed "kino interpolate factor=2" $((2 * N)) "$BIN" render "$W/in.mp4" -o "$W/kino.mp4" \
    --data-dir "$W/data" --preset ultrafast --crf 18 --chunk-seconds 0.5 --stage interpolate:factor=2
  timed "ffmpeg minterpolate mci/aobmc/bidir" $((2 * N)) ffmpeg -v error -y -i "$W/in.mp4" \
    -vf "minterpolate=fps=$OUT:mi_mode=mci:mc_mode=aobmc:me_mode=bidir" "${X264[@]}" "$W/mci.mp4"
  timed "ffmpeg framerate (blend)" $((2 * N)) ffmpeg -v error -y -i "$W/in.mp4" \
    -vf "framerate=fps=$OUT" "${X264[@]}" "$W/blend.mp4"
  echo "   frames: kino $(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$W/kino.mp4"), minterpolate $(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$W/mci.mp4")"
  echo "   minterpolate vs kino: $(psnr "$W/mci.mp4" "$W/kino.mp4") dB; blend vs kino: $(psnr "$W/blend.mp4" "$W/kino.mp4") dB"
done
