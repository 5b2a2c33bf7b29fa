#!/usr/bin/env bash
# Benchmark: detection and tracking on this machine's CPU (ONNX Runtime 1.32 through ort).
#  1. `kino-node detect` end to end on 20 s of the campus clip (768x576, 200 frames), detection on
#     every frame: NanoDet-m at 416x416 (classes=person) and CenterFace at the clip's 768x576
#     (classes=face; the node brings frames to at most 960 px),
#     one chunk with every core for the network, then 4 s chunks side by side (--jobs = cores).
#     Includes decoding, the frame to tensor conversion, decoding the outputs and tracking.
#  2. The networks alone, ort against tract-onnx on the same ONNX files and input in one run
#     (node/examples/detect_bench.rs, cargo feature `tract`).
# Usage: bash bench/detect.sh   (PROFILE=debug to use the test build instead of a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
FLAGS=()
if [ "$PROFILE" = release ]; then FLAGS=(--release); fi
cargo build -q "${FLAGS[@]}" -p kino-node
cargo build -q "${FLAGS[@]}" -p kino-node --features tract --example detect_bench
BIN=$PWD/target/$PROFILE/kino-node
EXAMPLE=$PWD/target/$PROFILE/examples/detect_bench
export KINO_MODELS_DIR=$PWD/models
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
SRC=../shared/media/video_pedestrians_campus_vtest.avi
if [ -f "$SRC" ]; then
  ffmpeg -v error -i "$SRC" -t 20 -c copy "$W/clip.avi"
else
  ffmpeg -v error -f lavfi -i testsrc2=size=768x576:rate=10:duration=20 -c:v mpeg4 -q:v 4 "$W/clip.avi"
fi
ffmpeg -v error -i "$W/clip.avi" -vf "select=eq(n\,100)" -frames:v 1 "$W/frame.png"
CORES=$(nproc)

# Prints "what: N frames in S s = F fps" for one `kino-node detect` run.
run() {
  local what=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" detect "$W/clip.avi" "$@" --tracks "$W/t.json" >/dev/null
  t1=$(date +%s.%N)
  awk -v w="$what" -v a="$t0" -v b="$t1" 'BEGIN {printf "%-44s 200 frames in %6.2f s = %6.1f fps\n", w, b - a, 200 / (b - a)}'
}
echo "== kino-node detect, 768x576 campus clip, detection on every frame, $CORES cores ($PROFILE build)"
run "NanoDet 416, one chunk" --settings every=1,classes=person --chunk-seconds 0 --jobs 1
run "NanoDet 416, 4 s chunks x $CORES" --settings every=1,classes=person --chunk-seconds 4 --jobs "$CORES"
run "CenterFace 768x576, one chunk" --settings every=1,classes=face --chunk-seconds 0 --jobs 1
run "CenterFace 768x576, 4 s chunks x $CORES" --settings every=1,classes=face --chunk-seconds 4 --jobs "$CORES"
run "NanoDet every 5th frame, 4 s chunks x $CORES" --settings every=5,classes=person --chunk-seconds 4 --jobs "$CORES"
"$EXAMPLE" "$W/frame.png" "${REPEAT:-10}"
