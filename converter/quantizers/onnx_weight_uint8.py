"""uint8 weight-only ONNX: each convolution kernel stored as uint8 with a
per-output-channel scale and zero point, expanded by a DequantizeLinear at
load. The analogue of TFJS weight quantization: 4x smaller kernels, float
arithmetic, and only standard ops, so it runs everywhere (onnxruntime-web
included), unlike dynamic quantization's ConvInteger.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from converter.onnx_graph import sort_nodes

# op type -> (weight input index, output-channel axis of that weight)
WEIGHT_INPUTS = {"Conv": (1, 0), "ConvTranspose": (1, 1)}


def quantize(proto: Any) -> Any:
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    dequantize_nodes = []
    done = set()
    for node in graph.node:
        if node.op_type not in WEIGHT_INPUTS:
            continue
        index, axis = WEIGHT_INPUTS[node.op_type]
        name = node.input[index] if len(node.input) > index else ""
        init = initializers.get(name)
        if init is None or name in done or init.data_type != onnx.TensorProto.FLOAT:
            continue
        weights = numpy_helper.to_array(init)
        q, scale, zero_point = per_channel_uint8(weights, axis)
        graph.initializer.remove(init)
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, f"{name}_quantized"),
                numpy_helper.from_array(scale, f"{name}_scale"),
                numpy_helper.from_array(zero_point, f"{name}_zero_point"),
            ]
        )
        dequantize_nodes.append(
            helper.make_node(
                "DequantizeLinear",
                [f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"],
                [name],
                name=f"{name}_dequantize",
                axis=axis,
            )
        )
        done.add(name)
    graph.node.extend(dequantize_nodes)
    sort_nodes(graph)
    return model


def per_channel_uint8(weights: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric uint8 per channel along `axis`; the range always contains 0
    so zero weights (and padding) stay exact."""
    moved = np.moveaxis(weights.astype(np.float64), axis, 0).reshape(weights.shape[axis], -1)
    low = np.minimum(moved.min(axis=1), 0.0)
    high = np.maximum(moved.max(axis=1), 0.0)
    scale = (high - low) / 255.0
    scale[scale == 0] = 1.0
    zero_point = np.clip(np.round(-low / scale), 0, 255)
    shape = [1] * weights.ndim
    shape[axis] = -1
    q = np.clip(np.round(weights / scale.reshape(shape) + zero_point.reshape(shape)), 0, 255)
    return q.astype(np.uint8), scale.astype(np.float32), zero_point.astype(np.uint8)
