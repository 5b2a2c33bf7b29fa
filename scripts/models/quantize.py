"""Static int8 QDQ quantisation of an image-to-image ONNX model, reproducible byte for byte.

usage: quantize.py IN.onnx OUT.onnx [options]   (see --help)

Calibration frames are synthesised here (integer arithmetic only: no media files, no FFmpeg, no
NumPy RNG or transcendental functions, whose last bits may change between versions or CPUs), so
every machine feeds the model the same float32 input. ONNX Runtime then runs the model on them to
collect activation ranges; its float results can differ in the last bits between CPUs (AVX2 vs
AVX-512 kernels), so every range is widened outwards onto a coarse grid (GRID_BITS significant
bits) before quantising. The script prints how close the closest raw range came to a grid step: as
long as that margin is far above float noise (~1e-5 relative), the output's SHA-256 is the same on
every machine with the same onnx / onnxruntime versions.

Defaults (Conv only, uint8 activations, int8 per-channel weights, two-sided 99.999 % percentile
ranges) keep realesr-animevideov3-x4 within 0.07 dB of fp32 at ~1.9x the speed on a Zen 4 CPU.
SPAN does not survive 8-bit activations (-1.5 dB at best, even with its first block in float).
"""

import argparse
import hashlib
import math
import os
import sys
import tempfile

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.calibrate import TensorData, TensorsData, create_calibrator, save_tensors_data

def hash32(x):
    """lowbias32 integer hash, elementwise on uint32 (wrapping arithmetic, exact everywhere)."""
    x = np.asarray(x, np.uint32)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(0x7FEB352D)
        x = x ^ (x >> np.uint32(15))
        x = x * np.uint32(0x846CA68B)
        return x ^ (x >> np.uint32(16))


def rnd(seed, *keys, n=None):
    """Deterministic uint32 for (seed, keys...), or an array of n of them."""
    h = np.uint32(seed)
    for k in keys:
        h = hash32(h ^ hash32(np.uint32(k) + np.uint32(0x9E3779B9)))
    if n is None:
        return int(h)
    return hash32(h ^ np.arange(n, dtype=np.uint32))


def value_noise(seed, h, w, cell):
    """Smooth noise 0..255 (int64), bilinear between random values on a grid of `cell` pixels."""
    gh, gw = h // cell + 2, w // cell + 2
    g = (rnd(seed, 1, n=gh * gw) & np.uint32(255)).astype(np.int64).reshape(gh, gw)
    y, x = np.mgrid[0:h, 0:w]
    iy, fy, ix, fx = y // cell, y % cell, x // cell, x % cell
    top = g[iy, ix] * (cell - fx) + g[iy, ix + 1] * fx
    bot = g[iy + 1, ix] * (cell - fx) + g[iy + 1, ix + 1] * fx
    return (top * (cell - fy) + bot * fy) // (cell * cell)


def fractal(seed, h, w, cells=(48, 24, 12, 6, 3)):
    acc, wsum = np.zeros((h, w), np.int64), 0
    for i, c in enumerate(cells):
        wt = 1 << (len(cells) - i)
        acc += wt * value_noise(rnd(seed, 10 + i), h, w, c)
        wsum += wt
    v = acc // wsum  # clusters round 128: stretch the contrast back out
    return np.clip((v - 128) * 2 + 128, 0, 255)


def box3(img):
    p = np.pad(img, ((1, 1), (1, 1)), mode="edge")
    s = sum(p[dy : dy + img.shape[0], dx : dx + img.shape[1]] for dy in range(3) for dx in range(3))
    return s // 9


def frame(seed, i, h, w):
    """One calibration frame, uint8 HxWx3: a mix of what video frames hold.

    Edges are always softened a little: perfectly hard edges between flat saturated colours
    (and 1-px line grids) drive SPAN's activations 100x past anything photos or video reach
    (and make even the fp32 model speckle), and min/max ranges taken on them ruin int8 precision."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    r = lambda *k: rnd(seed, i, *k)  # noqa: E731
    kind = i % 6
    # base: natural-ish texture with colour (luma fractal + weaker chroma fractals)
    luma = fractal(r(1), h, w)
    chans = []
    for c in range(3):
        chroma = fractal(r(2, c), h, w, cells=(64, 32, 16)) - 128
        chans.append(luma + chroma * (1 + r(3, c) % 3) // 4)
    img = np.stack(chans, -1)
    if kind == 1:  # smooth gradients, full range
        for c in range(3):
            a, b = r(4, c) % 9 - 4, r(5, c) % 9 - 4
            img[..., c] = (a * (x - w // 2) + b * (y - h // 2)) * 255 // (4 * max(h, w)) + 128
    elif kind == 2:  # flat shapes over the texture, edges softened like a camera's or scaler's
        for k in range(10):
            cy, cx = r(6, k) % h, r(7, k) % w
            ry, rx = 4 + r(8, k) % (h // 3), 4 + r(9, k) % (w // 3)
            if r(10, k) % 2:
                m = (abs(y - cy) <= ry) & (abs(x - cx) <= rx)
            else:
                m = (y - cy) ** 2 * rx * rx + (x - cx) ** 2 * ry * ry <= (rx * ry) ** 2
            col = [r(11, k, c) % 256 for c in range(3)]
            for c in range(3):
                img[..., c] = np.where(m, col[c], img[..., c])
        img = np.stack([box3(img[..., c]) for c in range(3)], -1)
        if i % 12 >= 6:
            img = np.stack([box3(img[..., c]) for c in range(3)], -1)
    elif kind == 3:  # grain: per-pixel noise on a darker/brighter texture
        amp = 4 + r(12) % 12
        for c in range(3):
            n = (rnd(r(13, c), 0, n=h * w) % np.uint32(2 * amp + 1)).astype(np.int64).reshape(h, w) - amp
            img[..., c] = img[..., c] * (2 + r(14) % 3) // 4 + 32 + n
    elif kind == 4:  # high frequencies: zone plate (triangle wave of r^2), stripes and 1-px lines
        k = 1 + r(15) % 4
        t = ((y - h // 2) ** 2 + (x - w // 2) ** 2) * k // 16 % 512
        tri = np.where(t < 256, t, 511 - t)
        period = 2 + r(16) % 6
        stripes = np.where((x + y * (r(17) % 3)) // period % 2 == 1, 230, 25)
        for c in range(3):
            img[..., c] = np.where(x < w // 2, tri, stripes)
        lines = (x % (7 + r(18) % 9) == 0) | (y % (5 + r(19) % 9) == 0)
        img[h // 2 :] = np.where(lines[h // 2 :, :, None], 255 - img[h // 2 :], img[h // 2 :])
        img = np.stack([box3(img[..., c]) for c in range(3)], -1)
    elif kind == 5:  # dark and bright scenes (low-key / high-key, saturated colours)
        for c in range(3):
            img[..., c] = img[..., c] // 4 if i % 12 < 6 else 255 - img[..., c] // 4
        img[..., r(20) % 3] = np.clip(img[..., r(20) % 3] * 2, 0, 255)
    return np.clip(img, 0, 255).astype(np.uint8)


def calibration_inputs(seed, count, h, w):
    for i in range(count):
        f = frame(seed, i, h, w)
        yield np.ascontiguousarray(f.transpose(2, 0, 1)[None]).astype(np.float32) / np.float32(255)


class Reader(CalibrationDataReader):
    def __init__(self, name, seed, count, h, w):
        self.it = ({name: a} for a in calibration_inputs(seed, count, h, w))

    def get_next(self):
        return next(self.it, None)


def snap(v, up, bits):
    """Round v outwards (up: towards +inf, else towards -inf) to `bits` significant bits.

    Also returns the relative distance from v to the nearest grid point (how far float noise would
    have to move v to change the result), or inf when v is exactly on the grid (0, or a saturated
    value such as sigmoid's 1.0, which other CPUs reach exactly too)."""
    v = float(v)
    if v == 0.0 or not math.isfinite(v):
        return v, math.inf
    _, e = math.frexp(abs(v))  # |v| = m * 2^e, m in [0.5, 1)
    step = math.ldexp(1.0, e - bits)
    q = abs(v) / step  # exact: step is a power of two
    if q == math.floor(q):
        return v, math.inf
    n = math.ceil(q) if (v > 0) == up else math.floor(q)
    margin = min(q - math.floor(q), math.ceil(q) - q) / q
    return math.copysign(n * step, v), margin


def silu_inputs(model):
    """Tensors whose only consumers are Sigmoid(t) and Mul(t, Sigmoid(t)): x*sigmoid(x) is ~0 below
    about -8, so their far negative tail carries nothing and need not cost int8 resolution."""
    users = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    found = set()
    for t, us in users.items():
        sig = [u for u in us if u.op_type == "Sigmoid"]
        mul = [u for u in us if u.op_type == "Mul"]
        if len(us) == 2 and len(sig) == 1 and len(mul) == 1 and set(mul[0].input) == {t, sig[0].output[0]}:
            if len(users.get(sig[0].output[0], [])) == 1:
                found.add(t)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--calibrate", choices=["minmax", "percentile", "entropy"], default="percentile")
    ap.add_argument("--percentile", type=float, default=99.999)
    ap.add_argument("--activations", choices=["u8", "s8"], default="u8")
    ap.add_argument("--ops", default="Conv", help="op types to quantise, comma-separated ('': all)")
    ap.add_argument("--exclude", default="", help="node names not to quantise, comma-separated")
    ap.add_argument("--exclude-first-last", action="store_true", help="keep the first and last Conv in float")
    ap.add_argument("--per-tensor", action="store_true", help="per-tensor weights (default per-channel)")
    ap.add_argument("--reduce-range", action="store_true")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", default="144x176", help="calibration frame HxW")
    ap.add_argument("--seed", type=int, default=0x4B494E4F)
    ap.add_argument("--grid-bits", type=int, default=3, help="significant bits kept in each range bound")
    ap.add_argument("--silu-floor", type=float, default=0.0,
                    help="clip the low end of tensors that only feed x*sigmoid(x) to -T (T > 0)")
    ap.add_argument("--dump-ranges", help="write the raw calibrated ranges (tab-separated) to this file")
    ap.add_argument("--dump-frames", help="write the calibration frames as PNGs into this folder")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.split("x"))

    if a.dump_frames:
        from PIL import Image

        os.makedirs(a.dump_frames, exist_ok=True)
        for i in range(a.frames):
            Image.fromarray(frame(a.seed, i, h, w)).save(f"{a.dump_frames}/calib_{i:02d}.png")

    model = onnx.load(a.input)
    name = model.graph.input[0].name
    ops = [o for o in a.ops.split(",") if o] or None
    exclude = [n for n in a.exclude.split(",") if n]
    if a.exclude_first_last:
        convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
        exclude += [convs[0], convs[-1]]
    method = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }[a.calibrate]

    with tempfile.TemporaryDirectory(prefix="kino-quant.") as tmp:
        calib_opts = {"symmetric": False}
        if a.calibrate == "percentile":
            calib_opts["percentile"] = a.percentile
        cal = create_calibrator(
            a.input,
            None,  # all float tensors; the quantiser picks the ones it needs
            augmented_model_path=os.path.join(tmp, "augmented.onnx"),
            calibrate_method=method,
            providers=["CPUExecutionProvider"],
            extra_options=calib_opts,
        )
        cal.collect_data(Reader(name, a.seed, a.frames, h, w))
        raw = cal.compute_data()
        del cal

        silu = silu_inputs(model) if a.silu_floor > 0 else set()
        ranges, margins, dump = {}, {}, []
        for t, d in sorted(raw.items()):
            lo, hi = (float(np.asarray(v).reshape(-1)[0]) for v in d.range_value)
            dump.append(f"{t}\t{lo!r}\t{hi!r}")
            if t in silu:
                lo = max(lo, -a.silu_floor)
            lo, mlo = snap(min(lo, 0.0) if lo > 0 else lo, False, a.grid_bits)
            hi, mhi = snap(max(hi, 0.0) if hi < 0 else hi, True, a.grid_bits)
            margins[t] = min(mlo, mhi)
            ranges[t] = TensorData(lowest=np.array(lo, np.float32), highest=np.array(hi, np.float32))
        if a.dump_ranges:
            open(a.dump_ranges, "w").write("\n".join(dump) + "\n")
        cache = os.path.join(tmp, "ranges.json")
        save_tensors_data(TensorsData(method, ranges), cache)

        act = QuantType.QUInt8 if a.activations == "u8" else QuantType.QInt8
        quantize_static(
            a.input,
            a.output,
            None,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=ops,
            per_channel=not a.per_tensor,
            reduce_range=a.reduce_range,
            activation_type=act,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            calibrate_method=method,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
            calibration_cache_path=cache,
        )
    used = {n.input[0] for n in onnx.load(a.output).graph.node if n.op_type == "QuantizeLinear"}
    worst = min((margins[t], t) for t in used if t in margins)
    print(f"quantize: {len(used)} activations quantised, ranges on a {a.grid_bits}-bit grid; the closest "
          f"raw bound was {worst[0]:.1e} (relative) from a grid step, at {worst[1]}", file=sys.stderr)
    digest = hashlib.sha256(open(a.output, "rb").read()).hexdigest()
    print(f"{digest}  {os.path.basename(a.output)}")


if __name__ == "__main__":
    main()
