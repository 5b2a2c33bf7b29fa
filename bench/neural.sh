#!/usr/bin/env bash
# Benchmark: neural upscale per model on this machine's CPU (ONNX Runtime 1.32 through ort, every
# core), tiled with the default tiles: ms per frame and fps for 360p→1440p (×4) and, unless
# QUICK=1, 720p→2880p for the two fast models. Times cover the whole picture (RGB in, tiles through
# the network, blending, RGB out), not decoding or encoding.
# Usage: bash bench/neural.sh   (PROFILE=debug to use the test build instead of a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then cargo build -q --release -p kino-node; else cargo build -q -p kino-node; fi
BIN=$PWD/target/$PROFILE/kino-node
export KINO_MODELS_DIR=$PWD/models
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
MEDIA=../shared/media
SRC=$MEDIA/photo_flower_2268x1512.png
[ -f "$SRC" ] || { ffmpeg -v error -f lavfi -i testsrc2=size=2268x1512 -frames:v 1 "$W/src.png"; SRC=$W/src.png; }
ffmpeg -v error -i "$SRC" -vf scale=640:360:flags=area "$W/360.png"
ffmpeg -v error -i "$SRC" -vf scale=1280:720:flags=area "$W/720.png"

# Prints "model size: N ms/frame, F fps" from the fastest of REPEAT runs.
run() {
  local model=$1 size=$2 repeat=$3
  "$BIN" upscale "$W/$size.png" -o "$W/out.png" --model "$model" --factor 4 --repeat "$repeat" |
    sort -n | head -1 | awk -v m="$model" -v s="$size" '{printf "%-8s %sp -> x4: %8.0f ms/frame  %6.3f fps\n", m, s, $1, 1000/$1}'
}
echo "== neural upscale x4, $(nproc) cores, tiles: fast 192, quality 128 (+32 context), small 128"
run fast 360 3
run small 360 3
run quality 360 1
if [ "${QUICK:-0}" != 1 ]; then
  run fast 720 1
  run small 720 1
fi
