#!/usr/bin/env bash
# Benchmark: loudness normalisation (target -16 LUFS, ceiling -1 dBTP) by `kino-node render
# --audio-stage loudness` against FFmpeg's two-pass `loudnorm`, on the same 10-minute speech clip
# (the shared speech recording looped, under a tiny still picture so audio dominates). Prints time
# and the result as measured by FFmpeg's ebur128 filter. Usage: bash bench/loudness.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=${1:-10}
cargo build -q --release -p kino-node
BIN=$PWD/target/release/kino-node
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
SPEECH=../shared/media/speech_read_english_16k_11s.wav
[ -f "$SPEECH" ] || { ffmpeg -v error -f lavfi -i "aevalsrc=0.5*sin(2*PI*180*t)*abs(sin(2*PI*2.5*t)):s=16000:d=10.8" "$W/speech.wav"; SPEECH=$W/speech.wav; }
ffmpeg -v error -y -stream_loop -1 -i "$SPEECH" -f lavfi -i "color=c=gray:size=160x120:rate=2" \
  -t $((MIN * 60)) -map 1:v -map 0:a -c:v libx264 -preset ultrafast -c:a aac -b:a 128k "$W/in.mp4"
measure() { ffmpeg -nostats -i "$1" -map 0:a:0 -af ebur128=peak=true -f null - 2>&1 | awk '/Summary/{s=1} s&&/I:/{i=$2} s&&/Peak:/{p=$2} END{printf "%s LUFS, true peak %s dBTP", i, p}'; }
t0=$(date +%s.%N)
"$BIN" render "$W/in.mp4" -o "$W/kino.mp4" --data-dir "$W/data" --preset ultrafast --audio-stage loudness:target_lufs=-16,true_peak_db=-1 2>/dev/null
t1=$(date +%s.%N)
J=$(ffmpeg -nostats -i "$W/in.mp4" -map 0:a -af loudnorm=I=-16:TP=-1:print_format=json -f null - 2>&1 | sed -n '/^{/,/^}/p')
get() { echo "$J" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
ffmpeg -v error -y -i "$W/in.mp4" -c:v copy -af "loudnorm=I=-16:TP=-1:measured_I=$(get input_i):measured_TP=$(get input_tp):measured_LRA=$(get input_lra):measured_thresh=$(get input_thresh):offset=$(get target_offset):linear=true,aresample=48000" -ac 1 -c:a aac -b:a 128k "$W/ff.mp4"
t2=$(date +%s.%N)
echo "input ($MIN min speech): $(measure "$W/in.mp4")"
python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); print(f'kino-node render --audio-stage loudness: {b-a:.2f} s'); print(f'ffmpeg loudnorm two-pass:               {c-b:.2f} s  (ratio kino/ffmpeg {(b-a)/(c-b):.2f})')" "$t0" "$t1" "$t2"
echo "kino result:   $(measure "$W/kino.mp4")"
echo "ffmpeg result: $(measure "$W/ff.mp4")"
