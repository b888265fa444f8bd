"""uint8 weight-only ONNX: each convolution kernel stored as uint8 with a
scale and zero point, expanded to float32 by `(float(q) - zero) * scale`
(Cast, Sub, Mul on constants, which runtimes fold once at session creation).
The scale is per output channel where that buys precision (some channel's
range is under half the widest one's, so it gains over a bit), else one per
kernel: on a model of many small kernels the per-channel scales are otherwise
~1% of the file for nothing. The analogue of TFJS weight quantization: 4x
smaller kernels, float arithmetic, and only standard ops, so it runs
everywhere. Not DequantizeLinear: onnxruntime-web's default WebGPU kernels
subtract its zero point in unsigned integers and return garbage (1e15) for
any weight below it; nor dynamic quantization's ConvInteger.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from converter.onnx_graph import sort_nodes

SCHEME = {
    "weights": "uint8 conv kernels, per kernel or per output channel, expanded to float32 at load",
    "activations": "float32",
}

# op type -> (weight input index, output-channel axis of that weight)
WEIGHT_INPUTS = {"Conv": (1, 0), "ConvTranspose": (1, 1)}
QUANTIZED_SUFFIXES = ("_q", "_scale", "_zero")  # the uint8 values, their scale and zero point


def quantize(proto: Any, calibration: Any = None) -> Any:
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
        q, scale, zero_point = affine_uint8(weights, axis)
        graph.initializer.remove(init)
        # Short suffixes and no node name: on a 150-convolution model the
        # metadata is a measurable share of a uint8 file.
        q_name, scale_name, zero_name = (f"{name}{suffix}" for suffix in QUANTIZED_SUFFIXES)
        shape = [1] * weights.ndim
        shape[axis] = -1
        scale, zero = (v.astype(np.float32).reshape(shape) if v.ndim else v.astype(np.float32) for v in (scale, zero_point))
        graph.initializer.extend(numpy_helper.from_array(a, n) for a, n in ((q, q_name), (scale, scale_name), (zero, zero_name)))
        dequantize_nodes += [
            helper.make_node("Cast", [q_name], [f"{name}_c"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Sub", [f"{name}_c", zero_name], [f"{name}_s"]),
            helper.make_node("Mul", [f"{name}_s", scale_name], [name]),
        ]
        done.add(name)
    graph.node.extend(dequantize_nodes)
    sort_nodes(graph)
    return model


def affine_uint8(weights: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel along `axis` when some channel's range is under half the
    widest (per-channel then gains it more than one bit), else per tensor
    (scalar scale and zero point)."""
    moved = np.moveaxis(weights, axis, 0).reshape(weights.shape[axis], -1)
    ranges = np.maximum(moved.max(axis=1), 0.0) - np.minimum(moved.min(axis=1), 0.0)
    if ranges.min() * 2 < ranges.max():
        return per_channel_uint8(weights, axis)
    q, scale, zero_point = per_channel_uint8(weights.reshape(1, -1), 0)
    return q.reshape(weights.shape), scale[0], zero_point[0]


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
