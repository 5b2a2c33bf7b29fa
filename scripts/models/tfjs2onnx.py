"""Converts a TF.js layers model (model.json + weight shards) into ONNX with an NCHW interface.

The small super-resolution model reaches us only as UpscalerJS's npm package (`@upscalerjs/esrgan-slim`),
a Keras functional model saved for TF.js. This covers the layers that model uses (InputLayer,
Conv2D 'same'/'valid' with linear/relu activation, Activation relu, Add, Concatenate on channels,
UpSampling2D nearest) and refuses anything else. The graph is built in NCHW (input [1,3,H,W] RGB
0..1, output [1,3,sH,sW]) so every model Kino runs takes the same layout.

usage: tfjs2onnx.py MODEL_DIR/model.json OUT.onnx
"""

import json
import os
import sys

import numpy as np
from onnx import helper, numpy_helper
from srgraph import save_sr_model


def load_weights(model_json, base):
    weights, blob = {}, b""
    for group in model_json["weightsManifest"]:
        blob = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        pos = 0
        for spec in group["weights"]:
            if spec["dtype"] != "float32" or "quantization" in spec:
                raise ValueError(f"{spec['name']}: only unquantized float32 weights are supported")
            n = int(np.prod(spec["shape"]))
            weights[spec["name"]] = np.frombuffer(blob, "<f4", n, pos).reshape(spec["shape"])
            pos += 4 * n
        if pos != len(blob):
            raise ValueError(f"weights: used {pos} of {len(blob)} bytes")
    return weights


def convert(json_path, out_path):
    with open(json_path) as f:
        m = json.load(f)
    weights = load_weights(m, os.path.dirname(json_path))
    cfg = m["modelTopology"]["model_config"]["config"]
    nodes, inits = [], []
    for layer in cfg["layers"]:
        kind, name, c = layer["class_name"], layer["name"], layer["config"]
        ins = [i[0] for i in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        if kind == "InputLayer":
            nodes.append(helper.make_node("Identity", ["input"], [name]))
            continue
        act = c.get("activation", "linear")
        out = name if kind != "Conv2D" or act == "linear" else name + ".pre"
        if kind == "Conv2D":
            if c["strides"] != [1, 1] or c["dilation_rate"] != [1, 1] or c.get("groups", 1) != 1:
                raise ValueError(f"{name}: only stride 1, dilation 1, groups 1 are supported")
            kh, kw = c["kernel_size"]
            if c["padding"] == "same":
                if kh % 2 == 0 or kw % 2 == 0:
                    raise ValueError(f"{name}: 'same' padding needs odd kernels")
                pads = [kh // 2, kw // 2, kh // 2, kw // 2]
            elif c["padding"] == "valid":
                pads = [0, 0, 0, 0]
            else:
                raise ValueError(f"{name}: padding {c['padding']}")
            k = weights[f"{name}/kernel"].transpose(3, 2, 0, 1)  # HWIO -> OIHW
            inits.append(numpy_helper.from_array(np.ascontiguousarray(k), name + ".w"))
            inputs = [ins[0], name + ".w"]
            if c["use_bias"]:
                inits.append(numpy_helper.from_array(weights[f"{name}/bias"].copy(), name + ".b"))
                inputs.append(name + ".b")
            nodes.append(helper.make_node("Conv", inputs, [out], name=name, kernel_shape=[kh, kw], pads=pads))
            if act == "relu":
                nodes.append(helper.make_node("Relu", [out], [name]))
            elif act != "linear":
                raise ValueError(f"{name}: activation {act}")
        elif kind == "Activation":
            if act != "relu":
                raise ValueError(f"{name}: activation {act}")
            nodes.append(helper.make_node("Relu", ins, [name], name=name))
        elif kind == "Add":
            nodes.append(helper.make_node("Sum", ins, [name], name=name))
        elif kind == "Concatenate":
            if c["axis"] not in (3, -1):
                raise ValueError(f"{name}: only channel concatenation is supported")
            nodes.append(helper.make_node("Concat", ins, [name], name=name, axis=1))
        elif kind == "UpSampling2D":
            if c.get("interpolation", "nearest") != "nearest":
                raise ValueError(f"{name}: only nearest upsampling is supported")
            sh, sw = c["size"]
            inits.append(numpy_helper.from_array(np.array([1, 1, sh, sw], np.float32), name + ".scales"))
            nodes.append(
                helper.make_node(
                    "Resize",
                    [ins[0], "", name + ".scales"],
                    [name],
                    name=name,
                    mode="nearest",
                    coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor",
                )
            )
        else:
            raise ValueError(f"{name}: unsupported layer type {kind}")
    outs = cfg["output_layers"]
    if len(outs) != 1:
        raise ValueError("expected one output layer")
    nodes.append(helper.make_node("Identity", [outs[0][0]], ["output"]))
    save_sr_model(nodes, inits, out_path, "kino-tfjs2onnx")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(*sys.argv[1:])
