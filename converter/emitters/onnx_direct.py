"""Keras -> ONNX by mapping layers, not by tracing TensorFlow.

Super-resolution models are built from a small set of layers, and each maps
onto one or two ONNX nodes. Writing those nodes directly takes well under a
second where tf2onnx (trace, freeze, grappler, its own optimiser) takes 5-9 s
on a 4 M-parameter model, and the graph comes out lean already: NCHW inside,
one Transpose at each end for an NHWC artifact, constant Resize scales, short
names from the Keras layer names.

A model with any layer (or activation, or setting) outside the table raises
`Unsupported`, and the caller falls back to tf2onnx. Either way the artifact
then faces the parity gate against the source model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from converter.core.dispatch import registrar
from converter.core.registry import Registry
from converter.core.errors import Unsupported
from converter.graphs.layout import TO_NCHW, TO_NHWC

PRODUCER = "srconvert"
INT64_MAX = np.iinfo(np.int64).max


@dataclass
class _Graph:
    opset: int
    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output


@dataclass(frozen=True)
class _Layer:
    name: str
    config: dict[str, Any]
    weights: list[np.ndarray]


Handler = Callable[[_Graph, _Layer, list[str]], str]
HANDLERS: Registry[Handler] = Registry("Keras layer the ONNX exporter maps")


_handles = registrar(HANDLERS)


def export(canonical: Any, opset: int, layout: str, input_name: str, output_name: str) -> Any:
    """The float32 ModelProto of a keras_model.Canonical; `Unsupported` if a
    layer has no mapping here."""
    from onnx import TensorProto, helper

    if canonical.topology.get("class_name") not in ("Functional", "Model"):
        raise Unsupported(f"a {canonical.topology.get('class_name')} model")
    config = canonical.topology["config"]
    if len(config.get("input_layers", [])) != 1 or len(config.get("output_layers", [])) != 1:
        raise Unsupported("the model does not have exactly one input and one output")
    graph = _Graph(opset)
    entry = input_name
    if layout == "nhwc":
        entry = graph.node("Transpose", [input_name], "input_nchw", perm=list(TO_NCHW))
    tensors = {config["input_layers"][0][0]: entry}
    pending = [spec for spec in config["layers"] if spec["class_name"] != "InputLayer"]
    while pending:
        ready = [spec for spec in pending if all(name in tensors for name in _inbound(spec))]
        if not ready:
            raise Unsupported("the layer graph is not a simple DAG of single-use layers")
        for spec in ready:
            handler = HANDLERS.get(spec["class_name"])
            if handler is None:
                raise Unsupported(f"layer {spec['name']} ({spec['class_name']})")
            layer = _Layer(spec["name"], spec["config"], canonical.weights.get(spec["name"], []))
            tensors[spec["name"]] = handler(graph, layer, [tensors[name] for name in _inbound(spec)])
        pending = [spec for spec in pending if spec not in ready]
    last = tensors[config["output_layers"][0][0]]
    if layout == "nhwc":
        graph.node("Transpose", [last], output_name, perm=list(TO_NHWC))
    else:
        graph.node("Identity", [last], output_name)
    shape = {"nhwc": lambda c: [None, None, None, c], "nchw": lambda c: [None, c, None, None]}[layout]

    def model(channels_out: int | None) -> Any:
        body = helper.make_graph(
            graph.nodes,
            config.get("name") or "model",
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape(canonical.input_channels))],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, shape(channels_out))],
            graph.initializers,
        )
        return helper.make_model(body, producer_name=PRODUCER, opset_imports=[helper.make_opsetid("", opset)])

    channels_out = canonical.output_channels
    if channels_out is None:  # read before any Keras model exists: ONNX's shape inference tells
        channels_out = _inferred_output_channels(model(None), layout)
    return model(channels_out)


def _inferred_output_channels(proto: Any, layout: str) -> int:
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(proto, strict_mode=True)
    dim = inferred.graph.output[0].type.tensor_type.shape.dim[3 if layout == "nhwc" else 1]
    if not dim.HasField("dim_value"):
        raise Unsupported("the output's channel count does not follow from the graph")
    return int(dim.dim_value)


def _inbound(spec: dict[str, Any]) -> list[str]:
    nodes = spec.get("inbound_nodes") or []
    if len(nodes) != 1:
        raise Unsupported(f"layer {spec['name']} is called {len(nodes)} times")
    names = []
    for item in nodes[0]:
        layer, node_index, tensor_index = item[:3]
        if node_index != 0 or tensor_index != 0 or (len(item) > 3 and item[3]):
            raise Unsupported(f"layer {spec['name']} takes a shared or keyword input")
        names.append(layer)
    return names


def _activation(graph: _Graph, name: str, x: str, activation: str | None) -> str:
    if activation in (None, "linear"):
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "elu": "Elu"}
    if activation in simple:
        return graph.node(simple[activation], [x], f"{name}/{activation}")
    if activation in ("swish", "silu"):
        gate = graph.node("Sigmoid", [x], f"{name}/sigmoid")
        return graph.node("Mul", [x, gate], f"{name}/swish")
    raise Unsupported(f"layer {name}: activation {activation}")


def _pair(value: Any) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)] * 2


def _conv(graph: _Graph, layer: _Layer, x: str, kernel: np.ndarray, bias: np.ndarray | None, group: int) -> str:
    """`kernel` already OIHW."""
    config = layer.config
    if config.get("data_format", "channels_last") != "channels_last":
        raise Unsupported(f"layer {layer.name}: data_format {config['data_format']}")
    k, strides, dilations = _pair(config["kernel_size"]), _pair(config["strides"]), _pair(config["dilation_rate"])
    # ONNX's defaults (unit strides and dilations, kernel shape from the
    # weight, one group) are left out: a uint8 file is small enough that
    # per-node bytes show.
    attrs: dict[str, Any] = {}
    if strides != [1, 1]:
        attrs["strides"] = strides
    if dilations != [1, 1]:
        attrs["dilations"] = dilations
    if group != 1:
        attrs["group"] = group
    padding = config["padding"]
    if padding == "same" and strides == [1, 1]:
        # TF's SAME puts the odd pixel at the end; so does this.
        totals = [d * (size - 1) for d, size in zip(dilations, k)]
        attrs["pads"] = [t // 2 for t in totals] + [t - t // 2 for t in totals]
    elif padding == "same":
        attrs["auto_pad"] = "SAME_UPPER"  # depends on the input size, which is dynamic
    elif padding != "valid":
        raise Unsupported(f"layer {layer.name}: padding {padding}")
    inputs = [x, graph.const(f"{layer.name}/kernel", kernel)]
    if bias is not None:
        inputs.append(graph.const(f"{layer.name}/bias", bias))
    y = graph.node("Conv", inputs, f"{layer.name}/conv" if config.get("activation") not in (None, "linear") else layer.name, **attrs)
    return _activation(graph, layer.name, y, config.get("activation"))


@_handles("Conv2D")
def _conv2d(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    kernel = layer.weights[0].transpose(3, 2, 0, 1)  # HWIO -> OIHW
    bias = layer.weights[1] if layer.config.get("use_bias", True) else None
    return _conv(graph, layer, inputs[0], kernel, bias, int(layer.config.get("groups", 1)))


@_handles("DepthwiseConv2D")
def _depthwise(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    depthwise = layer.weights[0]  # (kh, kw, in, multiplier); output channel = in * multiplier + m
    kh, kw, channels, multiplier = depthwise.shape
    kernel = depthwise.reshape(kh, kw, channels * multiplier).transpose(2, 0, 1)[:, None]
    bias = layer.weights[1] if layer.config.get("use_bias", True) else None
    return _conv(graph, layer, inputs[0], kernel, bias, channels)


@_handles("Activation")
def _activation_layer(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    return _activation(graph, layer.name, inputs[0], layer.config["activation"])


@_handles("ReLU")
def _relu(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    config = layer.config
    if float(config.get("negative_slope") or 0) != 0 or float(config.get("threshold") or 0) != 0:
        raise Unsupported(f"layer {layer.name}: ReLU with a slope or threshold")
    if config.get("max_value") is None:
        return graph.node("Relu", inputs, layer.name)
    low = graph.const(f"{layer.name}/min", 0.0)
    high = graph.const(f"{layer.name}/max", float(config["max_value"]))
    return graph.node("Clip", [inputs[0], low, high], layer.name)


@_handles("LeakyReLU")
def _leaky_relu(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    alpha = layer.config.get("alpha", layer.config.get("negative_slope", 0.3))
    return graph.node("LeakyRelu", inputs, layer.name, alpha=float(alpha))


@_handles("PReLU")
def _prelu(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    alpha = layer.weights[0]
    if alpha.shape[:-1] != (1, 1):
        raise Unsupported(f"layer {layer.name}: PReLU slopes that vary over height or width")
    return graph.node("PRelu", [inputs[0], graph.const(f"{layer.name}/slope", alpha.reshape(-1, 1, 1))], layer.name)


def _chain(op: str) -> Handler:
    def handler(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
        if op == "Sub" and len(inputs) != 2:
            raise Unsupported(f"layer {layer.name}: Subtract of {len(inputs)} inputs")
        y = inputs[0]
        for i, other in enumerate(inputs[1:], start=1):
            y = graph.node(op, [y, other], layer.name if i == len(inputs) - 1 else f"{layer.name}/{i}")
        return y

    return handler


for _layer, _op in (("Add", "Add"), ("Multiply", "Mul"), ("Subtract", "Sub")):
    HANDLERS.put(_layer, _chain(_op))


@_handles("Concatenate")
def _concatenate(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    if layer.config.get("axis", -1) not in (-1, 3):
        raise Unsupported(f"layer {layer.name}: concatenation on axis {layer.config['axis']}")
    return graph.node("Concat", inputs, layer.name, axis=1)


@_handles("PixelShuffle")
def _pixel_shuffle(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    # srconvert's PixelShuffle is tf.nn.depth_to_space: DCR channel order.
    return graph.node("DepthToSpace", inputs, layer.name, blocksize=int(layer.config["scale"]), mode="DCR")


@_handles("PixelUnshuffle")
def _pixel_unshuffle(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    # Output channel (row offset, column offset, channel): SpaceToDepth's order too.
    return graph.node("SpaceToDepth", inputs, layer.name, blocksize=int(layer.config["scale"]))


@_handles("MultiplyBeta")
def _multiply_beta(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    return graph.node("Mul", [inputs[0], graph.const(f"{layer.name}/beta", float(layer.config["beta"]))], layer.name)


def _resize(graph: _Graph, layer: _Layer, x: str, size: list[int], bilinear: bool) -> str:
    scales = graph.const(f"{layer.name}/scales", [1.0, 1.0, *map(float, size)])
    if bilinear:
        # TF2's bilinear resize samples at half-pixel centres, clamped at the edges.
        attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    else:
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    return graph.node("Resize", [x, "", scales], layer.name, **attrs)


@_handles("UpSampling2D")
def _upsampling(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    interpolation = layer.config.get("interpolation", "nearest")
    if interpolation not in ("nearest", "bilinear"):
        raise Unsupported(f"layer {layer.name}: {interpolation} upsampling")
    return _resize(graph, layer, inputs[0], _pair(layer.config["size"]), interpolation == "bilinear")


@_handles("ResizeBilinear")
def _resize_bilinear(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    return _resize(graph, layer, inputs[0], _pair(layer.config["size"]), True)


def _edges(value: Any) -> tuple[int, int, int, int]:
    """Keras's ((top, bottom), (left, right)) in any of its spellings."""
    if isinstance(value, int):
        return value, value, value, value
    rows, cols = value
    rows = (rows, rows) if isinstance(rows, int) else rows
    cols = (cols, cols) if isinstance(cols, int) else cols
    return int(rows[0]), int(rows[1]), int(cols[0]), int(cols[1])


@_handles("ZeroPadding2D")
def _zero_padding(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    top, bottom, left, right = _edges(layer.config["padding"])
    pads = graph.const(f"{layer.name}/pads", [0, 0, top, left, 0, 0, bottom, right], np.int64)
    return graph.node("Pad", [inputs[0], pads], layer.name, mode="constant")


@_handles("Cropping2D")
def _cropping(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    top, bottom, left, right = _edges(layer.config["cropping"])
    starts = graph.const(f"{layer.name}/starts", [top, left], np.int64)
    ends = graph.const(f"{layer.name}/ends", [-bottom or INT64_MAX, -right or INT64_MAX], np.int64)
    axes = graph.const(f"{layer.name}/axes", [2, 3], np.int64)
    return graph.node("Slice", [inputs[0], starts, ends, axes], layer.name)


def _per_channel(value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    return array.reshape(-1, 1, 1) if array.ndim else array


@_handles("Rescaling")
def _rescaling(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    scale = graph.const(f"{layer.name}/scale", _per_channel(layer.config.get("scale", 1.0)))
    offset = graph.const(f"{layer.name}/offset", _per_channel(layer.config.get("offset", 0.0)))
    return graph.node("Add", [graph.node("Mul", [inputs[0], scale], f"{layer.name}/scaled"), offset], layer.name)


@_handles("BatchNormalization")
def _batch_norm(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    config = layer.config
    axis = config.get("axis", -1)
    if axis not in (-1, 3, [3], [-1]):
        raise Unsupported(f"layer {layer.name}: batch normalisation over axis {axis}")
    weights = list(layer.weights)
    gamma = weights.pop(0) if config.get("scale", True) else 1.0
    beta = weights.pop(0) if config.get("center", True) else 0.0
    mean, variance = weights
    scale = gamma / np.sqrt(variance + float(config.get("epsilon", 1e-3)))
    shift = beta - mean * scale
    y = graph.node("Mul", [inputs[0], graph.const(f"{layer.name}/scale", _per_channel(scale))], f"{layer.name}/scaled")
    return graph.node("Add", [y, graph.const(f"{layer.name}/shift", _per_channel(shift))], layer.name)


def _pass_through(graph: _Graph, layer: _Layer, inputs: list[str]) -> str:
    return inputs[0]  # no-ops at inference


_handles("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout")(_pass_through)
