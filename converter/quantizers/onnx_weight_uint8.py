"""uint8 weight-only ONNX: each convolution kernel and matrix-product weight stored as uint8 with a
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

from converter.graphs.onnx_graph import sort_nodes

SCHEME = {
    "weights": "uint8 conv kernels and matrix weights, per kernel or per output channel, expanded to float32 at load",
    "activations": "float32",
}

# op type -> (weight input index, output-channel axis of that weight); a
# transformer's weights are the B of its MatMuls (K x N) and Gemms.
WEIGHT_INPUTS = {"Conv": (1, 0), "ConvTranspose": (1, 1), "MatMul": (1, -1), "Gemm": (1, 1)}
QUANTIZED_SUFFIX = "_q"  # the uint8 kernel of weight W is W_q


def quantize(proto: Any, calibration: Any = None, keep: frozenset[str] = frozenset()) -> Any:
    """`keep`: weights stored as float16 instead (mixed_precision's choice),
    each cast to float32 where it enters the graph as onnx_float16 does."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    expansions = []
    for index, (name, axis) in enumerate(weights(model).items()):
        init = initializers[name]
        array = numpy_helper.to_array(init)
        graph.initializer.remove(init)
        if name in keep:
            graph.initializer.append(numpy_helper.from_array(array.astype(np.float16), f"{name}_f16"))
            expansions.append(helper.make_node("Cast", [f"{name}_f16"], [name], to=onnx.TensorProto.FLOAT))
            continue
        q, scale, zero_point = affine_uint8(array, axis)
        constants, nodes = _expansion(name, f"_w{index}", q, scale, zero_point, axis)
        graph.initializer.extend(constants)
        expansions += nodes
    graph.node.extend(expansions)
    sort_nodes(graph)
    return model


def weights(proto: Any) -> dict[str, int]:
    """The initializers `quantize` stores as uint8 (float32 kernels of two
    or more dimensions that WEIGHT_INPUTS read), each with its output-channel
    axis, in the order the graph first reads them."""
    import onnx

    initializers = {init.name: init for init in proto.graph.initializer}
    found: dict[str, int] = {}
    for node in proto.graph.node:
        if node.op_type not in WEIGHT_INPUTS:
            continue
        index, axis = WEIGHT_INPUTS[node.op_type]
        if node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute):
            axis = 0  # B stored as N x K
        name = node.input[index] if len(node.input) > index else ""
        init = initializers.get(name)
        if init is None or name in found or init.data_type != onnx.TensorProto.FLOAT or len(init.dims) < 2:
            continue
        found[name] = axis % len(init.dims)
    return found


def searched(proto: Any, calibration: Any, goal: Any) -> tuple[Any, Any]:
    """`quantize` keeping at float16 the fewest kernels that let it meet
    `goal` (mixed_precision.search), and that decision."""
    from converter.quantizers import mixed_precision

    decision = mixed_precision.search(proto, fake(proto), goal)
    return quantize(proto, calibration, keep=frozenset(decision.kept)), decision


def fake(proto: Any):
    """`fake(name, array)` for mixed_precision.search: each weight `quantize`
    stores as uint8, as the graph expands it; None for the others."""
    axes = weights(proto)
    return lambda name, array: expanded(array, axes[name]) if name in axes else None


def expanded(weights: np.ndarray, axis: int) -> np.ndarray:
    """What the graph computes from the stored uint8 kernel, (float(q) - zero) * scale in float32."""
    q, scale, zero_point = affine_uint8(weights, axis)
    shape = [1] * q.ndim
    if scale.ndim:
        shape[axis] = -1
    zero = zero_point.astype(np.float32).reshape(shape)
    return (q.astype(np.float32) - zero) * scale.astype(np.float32).reshape(shape)


def _expansion(name: str, tag: str, q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray,
               axis: int) -> tuple[list[Any], list[Any]]:
    """Initializers and nodes computing float32 `name` = (float(q) - zero) * scale.

    On a 150-convolution model the metadata is a measurable share of a uint8
    file, so nodes go unnamed and only the uint8 kernel keeps the weight's
    name (`W_q`); the others are numbered by `tag`. A per-channel zero point
    stays uint8 on disk, a byte a channel, and is cast like the kernel."""
    import onnx
    from onnx import helper, numpy_helper

    shape = [1] * q.ndim
    shape[axis] = -1
    q_name, cast, shifted = f"{name}{QUANTIZED_SUFFIX}", f"{tag}c", f"{tag}s"
    initializers = [
        numpy_helper.from_array(q, q_name),
        numpy_helper.from_array(scale.astype(np.float32).reshape(shape) if scale.ndim else scale.astype(np.float32),
                                f"{tag}k"),
    ]
    nodes = [helper.make_node("Cast", [q_name], [cast], to=onnx.TensorProto.FLOAT)]
    if zero_point.ndim:
        initializers.append(numpy_helper.from_array(zero_point.reshape(shape), f"{tag}z"))
        nodes.append(helper.make_node("Cast", [f"{tag}z"], [f"{tag}f"], to=onnx.TensorProto.FLOAT))
        zero = f"{tag}f"
    else:
        initializers.append(numpy_helper.from_array(zero_point.astype(np.float32), f"{tag}z"))
        zero = f"{tag}z"
    nodes += [helper.make_node("Sub", [cast, zero], [shifted]), helper.make_node("Mul", [shifted, f"{tag}k"], [name])]
    return initializers, nodes


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
