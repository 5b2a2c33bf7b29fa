"""FLOPs per frame of an image network: 2·MACs of every Conv/ConvTranspose/MatMul/Gemm (the rest
is a few percent), from ONNX shape inference at a given input size.
Usage: python bench/flops.py MODEL.onnx WIDTH HEIGHT"""
import sys

import numpy as np
import onnx
from onnx import shape_inference


def main():
    path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    m = onnx.load(path)
    for i in m.graph.input:
        dims = i.type.tensor_type.shape.dim
        if len(dims) == 4:
            for d, v in zip(dims, (1, 3, h, w)):
                d.ClearField("dim_param")
                d.dim_value = v
    m = shape_inference.infer_shapes(m)
    shapes = {}
    for v in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    inits = {t.name: t.dims for t in m.graph.initializer}
    total = 0
    for n in m.graph.node:
        if n.op_type in ("Conv", "ConvTranspose"):
            wdims = inits.get(n.input[1])
            out = shapes.get(n.output[0])
            if wdims is None or not out:
                continue
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            k = int(np.prod(wdims[2:]))
            if n.op_type == "Conv":
                macs = int(np.prod(out)) * wdims[1] * k
            else:
                inp = shapes.get(n.input[0])
                macs = int(np.prod(inp)) * wdims[1] * k if inp else 0
            total += 2 * macs
        elif n.op_type in ("MatMul", "Gemm"):
            a, out = shapes.get(n.input[0]), shapes.get(n.output[0])
            if a and out:
                total += 2 * int(np.prod(out)) * a[-1]
    print(f"{path.rsplit('/', 1)[-1]} at {w}x{h}: {total / 1e9:.1f} GFLOP per frame")


main()
