#!/usr/bin/env bash
# Benchmark: every video enhancement stage beside the FFmpeg filter that does the same job, on the
# same input in one run, both encoding with libx264 -preset ultrafast -crf 0 (lossless, so the
# quality figures measure the filters and not the encoder). Prints wall time, the ratio and quality.
# Usage: bash bench/enhance.sh [denoise|upscale|stabilize|hdr|colour|sharpen]...  (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p kino-node -p kino-tests --bins
BIN=$PWD/target/release/kino-node
NOISE=$PWD/target/release/kino-addnoise
MOTION=$PWD/target/release/kino-motion
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
MEDIA=../shared/media
ENC=(-c:v libx264 -preset ultrafast -crf 0)
SECTIONS=${*:-denoise upscale stabilize hdr colour sharpen}

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }
# PSNR (average of Y, U, V as FFmpeg weights them) and SSIM (All) of $1 against $2.
quality() {
  ffmpeg -hide_banner -i "$1" -i "$2" -lavfi "[0:v]split[a][b];[1:v]split[c][d];[a][c]psnr;[b][d]ssim" -f null - 2>&1 |
    awk '/PSNR/{for(i=1;i<=NF;i++) if($i~/^average:/){split($i,a,":"); p=a[2]}} /SSIM/{for(i=1;i<=NF;i++) if($i~/^All:/){split($i,a,":"); s=a[2]}} END{printf "%.2f dB / SSIM %.4f", p, s}'
}
kino() { "$BIN" render "$@" --data-dir "$W/data" --preset ultrafast --crf 0 2>/dev/null; }
src() { [ -f "$MEDIA/$1" ] && echo "$MEDIA/$1" || echo "$2"; }

if [[ " $SECTIONS " == *" denoise "* ]]; then
  echo "== denoise: 60 frames of the campus clip (768x576) + Gaussian noise sigma 15"
  ffmpeg -v error -y -i "$(src video_pedestrians_campus_vtest.avi "")" -frames:v 60 -pix_fmt yuv420p "$W/clean.y4m"
  "$NOISE" "$W/clean.y4m" "$W/noisy.y4m" 15 7
  echo "noisy input: $(quality "$W/noisy.y4m" "$W/clean.y4m")"
  for st in "denoise:mode=manual,sigma=15" "denoise"; do
    t0=$(now); kino "$W/noisy.y4m" -o "$W/k.mp4" --stage "$st"; t1=$(now)
    echo "kino $st: $(secs "$t0" "$t1") s, $(quality "$W/k.mp4" "$W/clean.y4m")"
    if [ "$st" != denoise ]; then KINO_T=$(secs "$t0" "$t1"); fi
  done
  for f in nlmeans=s=9 nlmeans=s=12 nlmeans=s=15 hqdn3d=4 hqdn3d=8 hqdn3d=16; do
    t0=$(now); ffmpeg -v error -y -i "$W/noisy.y4m" -vf "$f" "${ENC[@]}" "$W/f.mp4"; t1=$(now)
    T=$(secs "$t0" "$t1")
    echo "ffmpeg $f: $T s (kino manual is $(ratio "$T" "$KINO_T")x faster), $(quality "$W/f.mp4" "$W/clean.y4m")"
  done
fi

if [[ " $SECTIONS " == *" upscale "* ]]; then
  echo "== upscale x2: the whole campus clip (795 frames) area-downscaled to 384x288 -> 768x576, vs the original"
  ffmpeg -v error -y -i "$(src video_pedestrians_campus_vtest.avi "")" -pix_fmt yuv420p "$W/orig.y4m"
  ffmpeg -v error -y -i "$W/orig.y4m" -vf scale=384:288:flags=area "$W/small.y4m"
  for f in lanczos3 bicubic; do
    t0=$(now); kino "$W/small.y4m" -o "$W/k.mp4" --stage "scale:width=768,height=576,filter=$f"; t1=$(now)
    echo "kino $f: $(secs "$t0" "$t1") s, $(quality "$W/k.mp4" "$W/orig.y4m")"
    if [ $f = lanczos3 ]; then KINO_T=$(secs "$t0" "$t1"); fi
  done
  for f in lanczos bicubic; do
    t0=$(now); ffmpeg -v error -y -i "$W/small.y4m" -vf "scale=768:576:flags=$f" "${ENC[@]}" "$W/f.mp4"; t1=$(now)
    T=$(secs "$t0" "$t1")
    echo "ffmpeg scale flags=$f: $T s (kino lanczos3 speed ratio $(ratio "$T" "$KINO_T")x), $(quality "$W/f.mp4" "$W/orig.y4m")"
  done
  echo "== upscale x4 of a 1080p-class photo sequence: flower 2268x1512 -> /4 -> x4 (150 frames)"
  FL=$(src photo_flower_2268x1512.png "")
  if [ -n "$FL" ]; then
    ffmpeg -v error -y -loop 1 -i "$FL" -frames:v 150 -vf "crop=2264:1512,format=yuv420p" "$W/fl.y4m"
    ffmpeg -v error -y -i "$W/fl.y4m" -vf scale=566:378:flags=area "$W/fls.y4m"
    t0=$(now); kino "$W/fls.y4m" -o "$W/k.mp4" --stage "scale:width=2264,height=1512"; t1=$(now)
    KINO_T=$(secs "$t0" "$t1"); echo "kino lanczos3: $KINO_T s, $(quality "$W/k.mp4" "$W/fl.y4m")"
    t0=$(now); ffmpeg -v error -y -i "$W/fls.y4m" -vf "scale=2264:1512:flags=lanczos" "${ENC[@]}" "$W/f.mp4"; t1=$(now)
    T=$(secs "$t0" "$t1"); echo "ffmpeg lanczos: $T s (ratio $(ratio "$T" "$KINO_T")x), $(quality "$W/f.mp4" "$W/fl.y4m")"
  fi
fi

if [[ " $SECTIONS " == *" stabilize "* ]]; then
  echo "== stabilize: a still photo behind a known synthetic shake (800x450, 10 s), tripod mode"
  FL=$(src photo_flower_2268x1512.png "")
  if [ -z "$FL" ]; then ffmpeg -v error -y -f lavfi -i mandelbrot=size=2268x1512:end_pts=1 -frames:v 1 "$W/fl.png"; FL=$W/fl.png; fi
  ffmpeg -v error -y -loop 1 -i "$FL" -vf "scale=1280:-2,rotate=a='0.012*sin(n*2.1)+0.008*sin(n*3.7)':c=black,crop=800:450:x='240+14*sin(n*1.3)+9*sin(n*2.9)':y='160+11*sin(n*1.7+1)+7*sin(n*3.3)',format=yuv420p" -r 25 -t 10 -c:v libx264 -crf 12 -preset ultrafast "$W/shaky.mp4"
  t0=$(now); kino "$W/shaky.mp4" -o "$W/k.mp4" --stage stabilize:mode=tripod,max_zoom=1.3; t1=$(now)
  KINO_T=$(secs "$t0" "$t1")
  t0=$(now)
  ffmpeg -v error -y -i "$W/shaky.mp4" -vf vidstabdetect=result="$W/t.trf":shakiness=8:tripod=1 -f null -
  ffmpeg -v error -y -i "$W/shaky.mp4" -vf vidstabtransform=input="$W/t.trf":tripod=1:zoom=0:optzoom=1 "${ENC[@]}" "$W/v.mp4"
  t1=$(now); T=$(secs "$t0" "$t1")
  echo "kino: $KINO_T s; vidstab (detect+transform): $T s; kino speed ratio $(ratio "$T" "$KINO_T")x"
  "$MOTION" "$W/shaky.mp4" "$W/k.mp4" "$W/v.mp4" | sed "s|$W/||"
  echo "== stabilize: the real handheld cockatoo clip (1280x720), smooth mode"
  CK=$(src video_cockatoo_handheld_shaky.mp4 "")
  if [ -n "$CK" ]; then
    t0=$(now); kino "$CK" -o "$W/k.mp4" --stage stabilize; t1=$(now)
    KINO_T=$(secs "$t0" "$t1")
    t0=$(now)
    ffmpeg -v error -y -i "$CK" -vf vidstabdetect=result="$W/c.trf" -f null -
    ffmpeg -v error -y -i "$CK" -vf vidstabtransform=input="$W/c.trf":optzoom=1 "${ENC[@]}" "$W/v.mp4"
    t1=$(now); T=$(secs "$t0" "$t1")
    echo "kino: $KINO_T s; vidstab: $T s; kino speed ratio $(ratio "$T" "$KINO_T")x"
    "$MOTION" "$CK" "$W/k.mp4" "$W/v.mp4" | sed "s|$W/||; s|$MEDIA/||"
  fi
fi

if [[ " $SECTIONS " == *" hdr "* ]]; then
  echo "== hdr: street clip (640x360 SDR, 10 s) -> kino to_hdr (HDR10) -> to_sdr, vs FFmpeg zscale+tonemap"
  ffmpeg -v error -y -i "$(src video_street_bikes_4cuts.mp4 "")" -t 10 -pix_fmt yuv420p -colorspace bt709 -color_primaries bt709 -color_trc bt709 "${ENC[@]}" "$W/sdr.mp4"
  t0=$(now); kino "$W/sdr.mp4" -o "$W/hdr.mp4" --codec h265 --stage hdr:mode=to_hdr; t1=$(now)
  echo "kino to_hdr (x265 lossless): $(secs "$t0" "$t1") s"
  t0=$(now); kino "$W/hdr.mp4" -o "$W/k.mp4" --stage hdr:mode=to_sdr; t1=$(now)
  KINO_T=$(secs "$t0" "$t1")
  echo "kino to_sdr: $KINO_T s, vs the SDR original: $(quality "$W/k.mp4" "$W/sdr.mp4")"
  for tm in hable mobius; do
    t0=$(now)
    ffmpeg -v error -y -i "$W/hdr.mp4" -vf "zscale=t=linear:npl=203,format=gbrpf32le,zscale=p=bt709,tonemap=$tm:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p" "${ENC[@]}" "$W/f.mp4"
    t1=$(now); T=$(secs "$t0" "$t1")
    echo "ffmpeg zscale+tonemap=$tm: $T s (kino speed ratio $(ratio "$T" "$KINO_T")x), vs the SDR original: $(quality "$W/f.mp4" "$W/sdr.mp4")"
  done
fi

if [[ " $SECTIONS " == *" colour "* ]]; then
  echo "== colour: street clip with a warm cast and lifted blacks (10 s) -> auto white balance + levels"
  ffmpeg -v error -y -i "$(src video_street_bikes_4cuts.mp4 "")" -t 10 -vf "colorchannelmixer=rr=1.1:bb=0.85,eq=contrast=0.7:brightness=0.06" "${ENC[@]}" "$W/cast.mp4"
  t0=$(now); kino "$W/cast.mp4" -o "$W/k.mp4" --stage color:auto_white_balance=true,auto_levels=true; t1=$(now)
  KINO_T=$(secs "$t0" "$t1")
  t0=$(now); ffmpeg -v error -y -i "$W/cast.mp4" -vf "normalize=smoothing=25:independence=0.5" "${ENC[@]}" "$W/f.mp4"; t1=$(now)
  T=$(secs "$t0" "$t1")
  ffmpeg -v error -y -i "$(src video_street_bikes_4cuts.mp4 "")" -t 10 "${ENC[@]}" "$W/orig.mp4"
  echo "kino auto colour: $KINO_T s, vs the uncast original: $(quality "$W/k.mp4" "$W/orig.mp4")"
  echo "ffmpeg normalize (temporal smoothing 25): $T s (kino speed ratio $(ratio "$T" "$KINO_T")x), vs the uncast original: $(quality "$W/f.mp4" "$W/orig.mp4")"
  echo "cast input: $(quality "$W/cast.mp4" "$W/orig.mp4")"
fi

if [[ " $SECTIONS " == *" sharpen "* ]]; then
  echo "== sharpen: street clip 10 s, kino adaptive unsharp vs ffmpeg unsharp (speed only)"
  ffmpeg -v error -y -i "$(src video_street_bikes_4cuts.mp4 "")" -t 10 "${ENC[@]}" "$W/in.mp4"
  t0=$(now); kino "$W/in.mp4" -o "$W/k.mp4" --stage sharpen:amount=1; t1=$(now)
  KINO_T=$(secs "$t0" "$t1")
  t0=$(now); ffmpeg -v error -y -i "$W/in.mp4" -vf unsharp=5:5:1.0 "${ENC[@]}" "$W/f.mp4"; t1=$(now)
  T=$(secs "$t0" "$t1")
  echo "kino sharpen: $KINO_T s; ffmpeg unsharp 5x5: $T s (kino speed ratio $(ratio "$T" "$KINO_T")x)"
fi
