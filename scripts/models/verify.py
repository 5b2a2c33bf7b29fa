"""Checks converted models against the runtime they came from, on the same input.

- ncnn models: the original .param/.bin run by the `ncnn` PyPI package (CPU, fp32) vs our ONNX in
  ONNX Runtime, on a crop of a real photo when one is given (else a smooth synthetic image).
- esrgan-slim: the package's own sample (`assets/fixture.png` upscaled by UpscalerJS into
  `assets/samples/4x/result.png`, made in a browser with WebGL) vs our ONNX on the same fixture,
  in 8-bit; the browser's lower precision leaves about one LSB on average.

Prints the largest differences and exits non-zero past the tolerances.

usage: verify.py MODELS_DIR NCNN_DIR SPAN_NCNN_DIR ESRGAN_SLIM_PACKAGE_DIR [PHOTO.png]
"""

import sys

import ncnn
import numpy as np
import onnxruntime as ort
from PIL import Image


def test_image(photo):
    if photo:
        img = np.asarray(Image.open(photo).convert("RGB"), np.float32) / 255.0
        return np.ascontiguousarray(img[:48, :64].transpose(2, 0, 1))
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    return np.stack([np.sin(x / 5) * 0.5 + 0.5, np.cos(y / 7) * 0.5 + 0.5, (x + y) / 112])


def run_ncnn(param, weights, chw):
    net = ncnn.Net()
    for k in ("use_vulkan_compute", "use_fp16_storage", "use_fp16_arithmetic", "use_fp16_packed", "use_bf16_storage"):
        setattr(net.opt, k, False)
    net.load_param(param)
    net.load_model(weights)
    ex = net.create_extractor()
    ex.input("data", ncnn.Mat(chw))
    _, out = ex.extract("output")
    return np.array(out)


def run_ort(path, nchw):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: nchw})[0]


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    models, ncnn_dir, span_dir, slim_dir = sys.argv[1:5]
    photo = sys.argv[5] if len(sys.argv) == 6 else None
    ok = True
    chw = test_image(photo)
    nets = [(ncnn_dir, n) for n in ("realesr-animevideov3-x2", "realesr-animevideov3-x4", "realesrgan-x4plus")]
    nets += [(span_dir, n) for n in ("span-x2", "span-x4")]
    for folder, name in nets:
        ref = run_ncnn(f"{folder}/{name}.param", f"{folder}/{name}.bin", chw)
        got = run_ort(f"{models}/{name}.onnx", chw[None])[0]
        diff = float(np.abs(ref - got).max()) if ref.shape == got.shape else float("inf")
        print(f"verify: {name}: ncnn {ref.shape} vs onnx {got.shape}, max |diff| {diff:.2e}")
        ok &= diff <= 1e-4
    fixture = np.asarray(Image.open(f"{slim_dir}/assets/fixture.png").convert("RGB"), np.float32) / 255.0
    ref = np.asarray(Image.open(f"{slim_dir}/assets/samples/4x/result.png").convert("RGB"), np.float32)
    got = run_ort(f"{models}/esrgan-slim-x4.onnx", np.ascontiguousarray(fixture.transpose(2, 0, 1))[None])[0]
    got = np.clip(np.round(got.transpose(1, 2, 0) * 255.0), 0, 255)
    if ref.shape != got.shape:
        print(f"verify: esrgan-slim-x4: sample {ref.shape} vs onnx {got.shape}")
        ok = False
    else:
        d = np.abs(ref - got)
        p99 = float(np.percentile(d, 99))
        print(f"verify: esrgan-slim-x4: vs the package's sample, mean |diff| {d.mean():.2f} LSB, 99th pct {p99:.0f}")
        # The sample was made by TF.js in a browser (WebGL, reduced precision): a wrong conversion
        # (layout, order) is off by tens of LSB everywhere, precision by about one.
        ok &= d.mean() <= 2.0 and p99 <= 10
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
