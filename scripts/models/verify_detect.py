"""Checks the converted detectors against the runtime they came from, on the same input.

- NanoDet-m: the original TF.js graph run by TensorFlow.js's own CPU backend (npm
  @tensorflow/tfjs-core/-converter/-backend-cpu, through scripts/models/run_tfjs_graph.js) vs our
  ONNX in ONNX Runtime, on a real photo resized to 416x416 (else a smooth synthetic image).
- CenterFace: the package's fixed-size file vs our free-size one in ONNX Runtime at the original's
  [10,3,32,32] (only shapes were edited, so they must agree exactly), and ours at 64x96 must run.

usage: verify_detect.py MODELS_DIR NANODET_JSON CENTERFACE_ORIG TFJS_NODE_PATH [PHOTO.png]
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from PIL import Image

NAMES = {"cls_8": "Identity_0", "cls_16": "Identity_1_0", "cls_32": "Identity_2_0",
         "box_8": "Identity_3_0", "box_16": "Identity_4_0", "box_32": "Identity_5_0"}


def session(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    models, nanodet_json, centerface_orig, node_path = sys.argv[1:5]
    photo = sys.argv[5] if len(sys.argv) == 6 else None
    ok = True
    if photo:
        img = np.asarray(Image.open(photo).convert("RGB").resize((416, 416)), np.float32)
    else:
        y, x = np.mgrid[0:416, 0:416].astype(np.float32)
        img = np.stack([np.sin(x / 9) * 127 + 128, np.cos(y / 13) * 127 + 128, (x + y) / 3.3], -1)
    # NanoDet's own normalisation (BGR, per-channel mean and scale), as the node feeds it.
    bgr = (img[..., ::-1] - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395]
    nchw = np.ascontiguousarray(bgr.transpose(2, 0, 1)[None], np.float32)
    s = session(f"{models}/nanodet-m.onnx")
    got = dict(zip([o.name for o in s.get_outputs()], s.run(None, {"input": nchw})))
    with tempfile.TemporaryDirectory() as tmp:
        nchw.tofile(f"{tmp}/in.bin")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_tfjs_graph.js")
        run = subprocess.run(["node", script, nanodet_json, f"{tmp}/in.bin", tmp], capture_output=True, text=True,
                             env={**os.environ, "NODE_PATH": node_path})
        if run.returncode != 0:
            sys.exit(f"verify: nanodet-m: TensorFlow.js failed: {run.stderr.strip()}")
        worst = 0.0
        for name, ref_name in NAMES.items():
            ref = np.fromfile(f"{tmp}/{ref_name}.bin", np.float32)
            if ref.size != got[name].size:
                print(f"verify: nanodet-m {name}: tfjs {ref.size} values vs onnx {got[name].shape}")
                ok = False
                continue
            worst = max(worst, float(np.abs(ref.reshape(got[name].shape) - got[name]).max()))
    print(f"verify: nanodet-m: tfjs (cpu backend) vs onnx, max |diff| over 6 outputs {worst:.2e}")
    ok &= worst <= 1e-4
    x = np.random.default_rng(1).random((10, 3, 32, 32), np.float32) * 255
    orig, ours = session(centerface_orig), session(f"{models}/centerface.onnx")
    a = orig.run(None, {orig.get_inputs()[0].name: x})
    b = [np.concatenate([ours.run(None, {ours.get_inputs()[0].name: x[i:i + 1]})[k] for i in range(10)])
         for k in range(len(a))]
    diff = max(float(np.abs(p - q).max()) for p, q in zip(a, b))
    big = ours.run(None, {ours.get_inputs()[0].name: np.zeros((1, 3, 64, 96), np.float32)})
    print(f"verify: centerface: package's fixed-size file vs ours, max |diff| {diff:.2e}; 64x96 -> {big[0].shape}")
    ok &= diff <= 1e-4 and big[0].shape == (1, 1, 16, 24)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
