#!/usr/bin/env bash
# Benchmark (issue 22): every classic stage beside FFmpeg's filter for the same work, on a 1080p and a
# 360p clip, run alternately, median of RUNS. Both encode with libx264 -preset ultrafast -crf 18;
# FFmpeg with its default threads, kino with its defaults and the quality report off. Prints the
# speed ratio (FFmpeg time / kino time: above 1, kino is faster) and PSNR of kino's output against
# FFmpeg's (and, with BASELINE=DIR, against the outputs an earlier run kept with KEEP=DIR).
# Usage: [KINO_BIN=...] bash bench/classic.sh [RUNS=3] [CASES="scale-lanczos scale-bicubic colour sharpen tonemap plain"] [INPUTS="1080 360"]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
CASES=${2:-scale-lanczos scale-bicubic colour sharpen tonemap plain}
INPUTS=${3:-1080 360}
# KINO_BIN=path times another build (an earlier commit's, for a before/after on one machine).
if [ -z "${KINO_BIN:-}" ]; then cargo build -q --release -p kino-node; fi
BIN=${KINO_BIN:-$PWD/target/release/kino-node}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
MEDIA=../shared/media
ENC=(-c:v libx264 -preset ultrafast -crf 18)
# Inputs without audio (so only video work is timed): real clips when the shared media is here,
# FFmpeg's test pattern with grain otherwise.
make_input() { # height file
  local h=$1 out=$2 src
  if [ "$h" = 1080 ]; then src=$MEDIA/video_cockatoo_handheld_shaky.mp4; else src=$MEDIA/video_street_bikes_4cuts.mp4; fi
  if [ -f "$src" ]; then
    ffmpeg -v error -y -i "$src" -an -vf "scale=-2:$h:flags=lanczos,crop=trunc(ih*16/9/2)*2:$h,setsar=1" \
      -c:v libx264 -preset veryfast -crf 16 -g 50 -pix_fmt yuv420p "$out"
  else
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=$((h * 16 / 9))x$h:rate=25:duration=10,noise=alls=10:allf=t" \
      -c:v libx264 -preset veryfast -crf 16 -g 50 -pix_fmt yuv420p "$out"
  fi
}
# The same clip as HDR10 (PQ, BT.2020, 10-bit) for the tone-mapping case.
make_pq() { # sdr pq
  ffmpeg -v error -y -i "$1" -vf "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv,zscale=t=linear:npl=203,format=gbrpf32le,zscale=p=bt2020:t=smpte2084:m=bt2020nc:r=tv:npl=203,format=yuv420p10le" \
    -c:v libx265 -preset ultrafast -x265-params "log-level=error:lossless=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc" \
    -color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc "$2"
}
kino_args() { # case
  case $1 in
    scale-lanczos) echo "--stage scale:factor=2,filter=lanczos3" ;;
    scale-bicubic) echo "--stage scale:factor=2,filter=bicubic" ;;
    colour) echo "--stage color:saturation=1.2,contrast=1.1" ;;
    sharpen) echo "--stage sharpen:amount=1.0" ;;
    tonemap) echo "--stage hdr:mode=to_sdr" ;;
    plain) echo "" ;;
  esac
}
ff_filter() { # case
  case $1 in
    scale-lanczos) echo "scale=iw*2:ih*2:flags=lanczos" ;;
    scale-bicubic) echo "scale=iw*2:ih*2:flags=bicubic" ;;
    colour) echo "eq=saturation=1.2:contrast=1.1" ;;
    sharpen) echo "unsharp=5:5:1.0" ;;
    tonemap) echo "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=mobius,zscale=t=bt709:m=bt709:r=tv,format=yuv420p" ;;
    plain) echo "" ;;
  esac
}
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
psnr() { ffmpeg -v info -i "$1" -i "$2" -lavfi "[0:v][1:v]psnr" -f null - 2>&1 | grep -o 'average:[0-9.inf]*' | cut -d: -f2; }
echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $RUNS runs each, alternating"
printf '%-6s %-14s %9s %9s %7s %12s %12s\n' input case kino_s ffmpeg_s ratio psnr_vs_ff psnr_vs_base
for h in $INPUTS; do
  make_input "$h" "$W/in$h.mp4"
  for c in $CASES; do
    IN=$W/in$h.mp4
    if [ "$c" = tonemap ]; then make_pq "$W/in$h.mp4" "$W/pq$h.mp4"; IN=$W/pq$h.mp4; fi
    : > "$W/tk"; : > "$W/tf"
    for _ in $(seq "$RUNS"); do
      rm -rf "$W/data"
      # shellcheck disable=SC2046
      t0=$(date +%s.%N); "$BIN" render "$IN" -o "$W/k.mp4" --preset ultrafast --crf 18 --quality off \
        --data-dir "$W/data" $(kino_args "$c") > /dev/null 2> "$W/err" || { cat "$W/err"; exit 1; }
      t1=$(date +%s.%N); secs "$t0" "$t1" >> "$W/tk"
      F=$(ff_filter "$c")
      t0=$(date +%s.%N); ffmpeg -v error -y -i "$IN" ${F:+-vf "$F"} "${ENC[@]}" -pix_fmt yuv420p "$W/f.mp4"
      t1=$(date +%s.%N); secs "$t0" "$t1" >> "$W/tf"
    done
    MK=$(sort -n "$W/tk" | sed -n "$(( (RUNS + 1) / 2 ))p")
    MF=$(sort -n "$W/tf" | sed -n "$(( (RUNS + 1) / 2 ))p")
    BASE=-
    if [ -n "${BASELINE:-}" ] && [ -f "$BASELINE/$h-$c.mp4" ]; then BASE=$(psnr "$W/k.mp4" "$BASELINE/$h-$c.mp4"); fi
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$W/k.mp4" "$KEEP/$h-$c.mp4"; fi
    printf '%-6s %-14s %9s %9s %7s %12s %12s\n' "${h}p" "$c" "$MK" "$MF" \
      "$(python3 -c "print(f'{$MF / $MK:.2f}')")" "$(psnr "$W/k.mp4" "$W/f.mp4")" "$BASE"
  done
done
