#!/usr/bin/env bash
# Benchmark: deinterlacing beside FFmpeg's bwdif and yadif on the same interlaced inputs in one run:
# PSNR against the progressive original (each output frame shows the first field's moment, the even
# frames of the original), idet's verdict on the output, and wall time (kino's whole render, with
# its field-order detection, against `ffmpeg -vf bwdif` with the same encoder settings).
# Inputs: real handheld footage (../shared/media/video_cockatoo_handheld_shaky.mp4, 1280x720) and a
# 720x576 test pattern, woven into 2:1 interlaced frames with tinterlace, top and bottom field first.
# Usage: bash bench/deinterlace.sh [RUNS]   (median of RUNS timings, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
cargo build -q --release -p kino-node
BIN=$PWD/target/release/kino-node
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

SRC=../shared/media/video_cockatoo_handheld_shaky.mp4
if [ ! -f "$SRC" ]; then
  SRC="$W/pattern_src.mp4"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=20:duration=8 -c:v libx264 -crf 10 "$SRC"
fi
ffmpeg -v error -y -f lavfi -i testsrc2=size=720x576:rate=50:duration=6 -c:v libx264 -crf 6 "$W/pattern.mp4"

now() { date +%s.%N; }
psnr() { ffmpeg -i "$1" -i "$2" -lavfi "[0:v]setpts=N[a];[1:v]setpts=N[b];[a][b]psnr" -f null - 2>&1 | grep -o 'average:[0-9.]*' | cut -d: -f2; }
idet() { ffmpeg -hide_banner -i "$1" -vf idet -f null - 2>&1 | grep -o 'Multi frame detection.*' | sed 's/Multi frame detection: //'; }
median() { python3 -c 'import statistics,sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

for clip in real pattern; do
  if [ $clip = real ]; then IN=$SRC; SECS=6; else IN=$W/pattern.mp4; SECS=6; fi
  ffmpeg -v error -y -i "$IN" -t $SECS -vf "select='not(mod(n\,2))'" -fps_mode passthrough -c:v libx264 -crf 0 "$W/truth.mp4"
  for order in tff bff; do
    weave=interleave_top; [ $order = bff ] && weave=interleave_bottom
    ffmpeg -v error -y -i "$IN" -t $SECS -vf "tinterlace=$weave,setfield=$order" -c:v libx264 -crf 4 -g 25 \
      -flags +ildct+ilme -x264-params $order=1 -preset veryfast "$W/in.mp4"
    tk=(); tb=()
    for i in $(seq "$RUNS"); do
      rm -rf "$W/data"
      t0=$(now); "$BIN" render "$W/in.mp4" -o "$W/k.mp4" --crf 0 --preset ultrafast --data-dir "$W/data" 2>/dev/null; t1=$(now)
      ffmpeg -v error -y -i "$W/in.mp4" -vf bwdif=mode=send_frame:parity=$order:deint=all -c:v libx264 -crf 0 -preset ultrafast "$W/bwdif.mp4"; t2=$(now)
      tk+=("$(python3 -c "print($t1 - $t0)")"); tb+=("$(python3 -c "print($t2 - $t1)")")
    done
    ffmpeg -v error -y -i "$W/in.mp4" -vf yadif=mode=send_frame:parity=$order -c:v libx264 -crf 0 -preset ultrafast "$W/yadif.mp4"
    mk=$(median "${tk[@]}"); mb=$(median "${tb[@]}")
    echo "$clip $order ($(ffprobe -v error -select_streams v -show_entries stream=width,height -of csv=s=x:p=0 "$W/in.mp4"), $(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$W/in.mp4") frames):"
    echo "  PSNR vs progressive original: kino $(psnr "$W/k.mp4" "$W/truth.mp4") dB, bwdif $(psnr "$W/bwdif.mp4" "$W/truth.mp4") dB, yadif $(psnr "$W/yadif.mp4" "$W/truth.mp4") dB, combed input $(psnr "$W/in.mp4" "$W/truth.mp4") dB"
    echo "  idet on kino's output: $(idet "$W/k.mp4")"
    echo "  time: kino render ${mk} s, ffmpeg bwdif ${mb} s, ratio $(python3 -c "print(f'{$mk/$mb:.2f}')") (median of $RUNS)"
  done
done
