"""float16 ONNX: weights stored in half precision, each cast to float32 once
where it enters the graph; the arithmetic stays float32.

This is the float16 that runs everywhere: on a WebGPU adapter without the
`shader-f16` feature (SwiftShader, many phones and older GPUs) onnxruntime-web
refuses half-precision kernels outright ("requires f16 but the device does
not support it"), while these Casts of constants are folded at session
creation, so every runtime computes in float32 from half-precision weights.
The download halves, as users of onnxruntime-web ask for (its issue #17230),
and accuracy only loses the weights' rounding.

Initializers that are scalars, or that Resize/Upsample read (scales, roi),
stay float32: they are shape parameters, not weights.
"""

from __future__ import annotations

from typing import Any

SCHEME = {
    "weights": "float16, cast to float32 where they enter the graph",
    "activations": "float32",
}
SHAPE_READERS = ("Resize", "Upsample")


def quantize(proto: Any, calibration: Any = None) -> Any:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    shape_inputs = {name for node in graph.node if node.op_type in SHAPE_READERS for name in node.input[1:]}
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or init.name in shape_inputs:
            continue
        array = numpy_helper.to_array(init)
        if array.size < 2:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(array.astype(np.float16), f"{name}_f16"))
        casts.append(helper.make_node("Cast", [f"{name}_f16"], [name], name=f"{name}_to_f32", to=onnx.TensorProto.FLOAT))
    nodes = casts + list(graph.node)  # constants first: the graph stays topologically sorted
    del graph.node[:]
    graph.node.extend(nodes)
    return model
