"""The ONNX file both converters write: one graph `sr`, input [1,3,h,w] -> output [1,3,oh,ow] (float,
RGB 0..1), opset 17, IR 8, checked before it is saved. One place, so both converters' files keep the
same interface the node's runner expects."""

import onnx
from onnx import TensorProto, helper


def save_sr_model(nodes, inits, out_path, producer):
    graph = helper.make_graph(
        nodes,
        "sr",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "oh", "ow"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name=producer)
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out_path)
