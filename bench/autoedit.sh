#!/usr/bin/env bash
# Benchmark: auto-edit detection (black, frozen, silent stretches) beside FFmpeg's blackdetect +
# freezedetect + silencedetect on the same generated input in one run; prints wall times, the ratio
# and whether both found the same stretches. Then the full render of the cut beside the equivalent
# ffmpeg select/aselect cut (what auto-editor does under the hood) on the same input.
# Usage: bash bench/autoedit.sh [seconds]   (default 60; 1280x720 at 25 fps)
# (The cutlist command decodes in one pass; a render's detection runs in the parallel analysis pass.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p kino-node
BIN=$PWD/target/release/kino-node
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
D=${1:-60}
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }

# Every 20 s: black 3-5.5 s and silence 8-10.5 s (as in tests/tests/cutlist.rs; frozen stretches are
# left out here: FFmpeg has no periodic freeze source, the test covers them).
B="between(mod(t,20),3,5.5)"; S="between(mod(t,20),8,10.5)"
ffmpeg -v error -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$D" \
  -f lavfi -i "sine=f=440:sample_rate=48000:duration=$D" \
  -vf "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='$B'" \
  -af "volume=volume=0:enable='$S'" -c:v libx264 -preset ultrafast -crf 18 -g 50 -c:a aac "$W/in.mp4"
echo "== auto-edit detection on ${D} s of 1280x720 (black and silent stretches every 20 s)"
t0=$(now); "$BIN" cutlist "$W/in.mp4" --json > "$W/k.json"; t1=$(now)
ffmpeg -hide_banner -i "$W/in.mp4" -vf "blackdetect=d=2:pix_th=0.10:pic_th=0.98,freezedetect=n=0.001:d=2" \
  -af "silencedetect=n=-60dB:d=2" -f null - 2> "$W/ff.txt"; t2=$(now)
tk=$(secs "$t0" "$t1"); tf=$(secs "$t1" "$t2")
echo "kino cutlist: ${tk} s; ffmpeg blackdetect+freezedetect+silencedetect: ${tf} s; kino speed ratio $(ratio "$tf" "$tk")x"
python3 - "$W/k.json" "$W/ff.txt" <<'PY'
import json, re, sys
k = json.load(open(sys.argv[1]))
fps = k["source"]["rate"]["num"] / k["source"]["rate"]["den"]
print("kino removed:", [(round(r["start"] / fps, 2), round(r["end"] / fps, 2), r["reasons"]) for r in k["removed"]])
t = open(sys.argv[2]).read()
black = re.findall(r"black_start:([\d.]+) black_end:([\d.]+)", t)
sil = list(zip(re.findall(r"silence_start: ([\d.]+)", t), re.findall(r"silence_end: ([\d.]+)", t)))
print("ffmpeg black:", [(float(a), float(b)) for a, b in black])
print("ffmpeg silence:", [(float(a), float(b)) for a, b in sil])
PY
echo "== rendering the cut: kino render --auto-edit vs ffmpeg select/aselect with the same kept parts"
t0=$(now); "$BIN" render "$W/in.mp4" -o "$W/k.mp4" --auto-edit --data-dir "$W/data" --preset ultrafast --crf 18 2>/dev/null; t1=$(now)
SEL=$(python3 -c "
import json; k=json.load(open('$W/k.json')); fps=k['source']['rate']['num']/k['source']['rate']['den']
print('+'.join(f'between(t,{s[\"start\"]/fps:.4f},{(s[\"end\"])/fps-0.0001:.4f})' for s in k['kept']))")
ffmpeg -v error -y -i "$W/in.mp4" -vf "select='$SEL',setpts=N/FRAME_RATE/TB" -af "aselect='$SEL',asetpts=N/SR/TB" \
  -c:v libx264 -preset ultrafast -crf 18 -c:a aac "$W/f.mp4"; t2=$(now)
tk=$(secs "$t0" "$t1"); tf=$(secs "$t1" "$t2")
dur() { ffprobe -v error -select_streams "$2" -show_entries stream=duration -of csv=p=0 "$1"; }
echo "kino render --auto-edit: ${tk} s (video $(dur "$W/k.mp4" v:0) s, audio $(dur "$W/k.mp4" a:0) s); ffmpeg select+aselect: ${tf} s (video $(dur "$W/f.mp4" v:0) s, audio $(dur "$W/f.mp4" a:0) s); kino speed ratio $(ratio "$tf" "$tk")x"
