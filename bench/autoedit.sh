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

# Every 20 s: black 3-5.5 s and silence 8-10.5 s (as in tests/tests/cutlist/; frozen stretches are
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

# auto-editor 23.32.1 (PyPI): the last release that is a Python package (29.x only downloads its
# binary from GitHub at install, which this machine cannot reach). Installed once into
# .venv-autoeditor: PyAV 10 built from source against Debian's FFmpeg (it needs Cython < 3), NumPy < 2
# (auto-editor 23 uses np.float_). Its default edit is by audio loudness; "(and audio motion)" also
# cuts still pictures (black and frozen), which is what kino's cutlist with frozen=true does.
AE=$PWD/.venv-autoeditor
if [ ! -x "$AE/bin/auto-editor" ]; then
  echo "installing auto-editor 23.32.1 into .venv-autoeditor (PyAV 10 from source, a few minutes)"
  python3 -m venv "$AE"
  "$AE/bin/pip" install -q "cython<3" wheel
  "$AE/bin/pip" install -q --no-build-isolation av==10.0.0
  "$AE/bin/pip" install -q "numpy<2" pillow==10.0.0 auto-editor==23.32.1
fi
AEQ="--no-open --quiet --progress none"
kept_ae() { python3 -c '
import json, sys
t = sys.stdin.read(); j = json.loads(t[t.index("{"):t.rindex("}") + 1])
print([tuple(c[:2]) for c in j["chunks"] if c[2] == 1.0])'; }
kept_kino() { python3 -c '
import json, sys
print([(k["start"], k["end"]) for k in json.load(sys.stdin)["kept"]])'; }
echo "== beside auto-editor $("$AE/bin/auto-editor" --version): the test clip (18 s 320x240, black 3-5.5 s, silent 8-10.5 s, frozen 13-15.5 s)"
ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=25:duration=18 \
  -f lavfi -i sine=f=440:sample_rate=48000:duration=18 \
  -filter_complex "[0:v]drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,3,5.5)',split[a][b];[a][b]freezeframes=first=326:last=387:replace=325[v]" \
  -map "[v]" -map 1:a -af "volume=volume=0:enable='between(t,8,10.5)'" \
  -c:v libx264 -preset ultrafast -qp 0 -c:a pcm_s16le -f mov "$W/clip.mov"
echo "expected kept frames with 0.2 s margins (as tests/tests/cutlist/ checks): [(0, 80), (133, 205), (257, 331), (383, 450)] (+-1)"
echo "kino cutlist frozen=true:           $("$BIN" cutlist "$W/clip.mov" --settings frozen=true --json | kept_kino)"
echo "auto-editor (and audio motion):     $("$AE/bin/auto-editor" "$W/clip.mov" --edit "(and audio motion)" --export timeline:api=1 $AEQ | kept_ae)"
echo "auto-editor default (audio):        $("$AE/bin/auto-editor" "$W/clip.mov" --export timeline:api=1 $AEQ | kept_ae)"
echo "== beside auto-editor on the ${D} s input: detection (cut list only) and the rendered cut"
t0=$(now); "$BIN" cutlist "$W/in.mp4" --settings frozen=true --json > "$W/k2.json"; t1=$(now)
"$AE/bin/auto-editor" "$W/in.mp4" --edit "(and audio motion)" --export timeline:api=1 $AEQ > "$W/ae.txt"; t2=$(now)
echo "kino cutlist: $(secs "$t0" "$t1") s, kept $(kept_kino < "$W/k2.json")"
echo "auto-editor timeline: $(secs "$t1" "$t2") s, kept $(kept_ae < "$W/ae.txt")"
echo "kino speed ratio $(ratio "$(secs "$t1" "$t2")" "$(secs "$t0" "$t1")")x"
t0=$(now); "$BIN" render "$W/in.mp4" -o "$W/k3.mp4" --auto-edit=frozen=true --data-dir "$W/data3" --preset ultrafast --crf 18 2>/dev/null; t1=$(now)
"$AE/bin/auto-editor" "$W/in.mp4" --edit "(and audio motion)" -o "$W/ae.mp4" $AEQ > /dev/null; t2=$(now)
echo "kino render --auto-edit: $(secs "$t0" "$t1") s (video $(dur "$W/k3.mp4" v:0) s); auto-editor render: $(secs "$t1" "$t2") s (video $(dur "$W/ae.mp4" v:0) s); kino speed ratio $(ratio "$(secs "$t1" "$t2")" "$(secs "$t0" "$t1")")x"
