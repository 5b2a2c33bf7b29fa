#!/usr/bin/env bash
# Benchmark: how faithful each upscaler is. Every shared photo (whole) is shrunk ×2 and ×4 (FFmpeg
# bicubic, antialiased) and upscaled back by bicubic, Lanczos and each Kino model; PSNR (RGB, FFmpeg's
# `psnr` filter on the PNGs) and SSIM against the original. Then the speed of SPAN ×2 and fast ×4
# on a 640×360 frame (best of 3, whole frame), with the former 192-px tiles and as now. QUICK=1 leaves out x4plus (`quality`),
# minutes per photo on a CPU.
# Usage: bash bench/fidelity.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p kino-node
BIN=$PWD/target/release/kino-node
export KINO_MODELS_DIR=$PWD/models
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
MEDIA=../shared/media
PHOTOS=$(ls "$MEDIA"/photo_*.png 2>/dev/null || true)
if [ -z "$PHOTOS" ]; then
  ffmpeg -v error -f lavfi -i testsrc2=size=1024x768 -frames:v 1 "$W/testsrc2.png"
  PHOTOS=$W/testsrc2.png
fi
# "PSNR SSIM" of $1 against $2.
score() {
  local p s
  p=$(ffmpeg -v info -i "$1" -i "$2" -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr" -f null - 2>&1 |
    sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' | tail -1)
  s=$(ffmpeg -v info -i "$1" -i "$2" -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]ssim" -f null - 2>&1 |
    sed -n 's/.*All:\([0-9.]*\).*/\1/p' | tail -1)
  printf "%6.2f/%.3f" "$p" "$s"
}
for f in 2 4; do
  models="span fast small"
  [ "$f" = 4 ] && [ "${QUICK:-0}" != 1 ] && models="$models quality"
  printf "\n== x%s, PSNR dB / SSIM\n%-28s %13s %13s" "$f" "photo" bicubic lanczos
  for m in $models; do printf " %13s" "$m"; done
  echo
  for p in $PHOTOS; do
    name=$(basename "$p")
    w=$(ffprobe -v error -select_streams v:0 -show_entries stream=width -of csv=p=0 "$p")
    h=$(ffprobe -v error -select_streams v:0 -show_entries stream=height -of csv=p=0 "$p")
    w=$((w / f * f)); h=$((h / f * f))
    ffmpeg -v error -y -i "$p" -vf "crop=$w:$h:0:0" "$W/hr.png"
    ffmpeg -v error -y -i "$W/hr.png" -vf "scale=$((w / f)):$((h / f)):flags=bicubic" "$W/lr.png"
    printf "%-28s" "$name"
    for k in bicubic lanczos; do
      ffmpeg -v error -y -i "$W/lr.png" -vf "scale=$w:$h:flags=$k" "$W/up.png"
      printf " %13s" "$(score "$W/up.png" "$W/hr.png")"
    done
    for m in $models; do
      "$BIN" upscale "$W/lr.png" -o "$W/up.png" --model "$m" --factor "$f" >/dev/null
      printf " %13s" "$(score "$W/up.png" "$W/hr.png")"
    done
    echo
  done
done
SRC=$(echo "$PHOTOS" | tail -1)
ffmpeg -v error -y -i "$SRC" -vf scale=640:360:flags=area "$W/360.png"
echo
echo "== speed on a 640x360 frame, $(nproc) cores, best of 3: 192-px tiles (the default before) vs the default now (whole up to 640x368)"
for mf in "span 2" "fast 4"; do
  set -- $mf
  for how in "--tile 192" ""; do
    ms=$("$BIN" upscale "$W/360.png" -o "$W/out.png" --model "$1" --factor "$2" --repeat 3 $how | sort -n | head -1 | awk '{print $1}')
    printf "%-5s x%s %-12s %8.0f ms/frame  %5.2f fps\n" "$1" "$2" "${how:-default}" "$ms" "$(awk -v m="$ms" "BEGIN{print 1000/m}")"
  done
done
