"""An ONNX graph (NCHW) as a TensorFlow function (NHWC), for TF.js graph models.

Each ONNX op is written with the TensorFlow ops TF.js implements, so any
graph built only of the ops in `HANDLERS` becomes a graph model. Layout is
tracked per tensor instead of transposing around every convolution:
- image ops (Conv, pooling, DepthToSpace, Resize, InstanceNormalization)
  read and write NHWC, the layout TF.js's kernels are written for;
- element-wise ops, and ops with an axis (Concat, Split, Slice, Softmax,
  the reductions, Pad), run in whichever layout their input already holds,
  with the axis remapped;
- everything that sees the memory order (Reshape, Transpose, MatMul, Gather,
  Shape) runs on the ONNX (NCHW) layout, as the graph wrote it.
So a transformer block pays two transposes (into tokens and back), and a
convolutional trunk none.

Constant subgraphs are evaluated once with onnx's reference evaluator, so
what reaches TensorFlow is the computation on the image alone. At a free
input size, what the graph computes from its shape (window counts, pads to a
multiple, crops by the scale) is computed at run time by TF's shape ops
instead (graphs.onnx_ops says which inputs must stay constant). Integer
tensors are int32, as TF.js has no int64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from converter.core.dispatch import registrar
from converter.core.registry import Registry
from converter.core.errors import Unsupported
from converter.graphs import onnx_graph, onnx_ops
from converter.graphs.layout import NHWC_AXIS, TO_NCHW, TO_NHWC

HANDLERS: Registry[Callable[["Interpreter", Any, list[Any]], Any]] = Registry("ONNX op the TF graph builder runs")
_op = registrar(HANDLERS)

INT32_MAX = np.iinfo(np.int32).max


def _needs_size(node: Any, what: str) -> Unsupported:
    return Unsupported(f"{node.op_type} {node.name!r}: {what} (fix the size with --input-size)")


@dataclass
class Held:
    """A tensor computed on the image; `nhwc`: a 4-D NCHW value held as NHWC."""

    tensor: Any
    nhwc: bool = False


class Interpreter:
    def __init__(self, model: Any, path: Any = None) -> None:
        """`path`: the source file, which a node this cannot translate is reported against."""
        import tensorflow as tf
        from onnx import numpy_helper

        self.tf = tf
        self.model = model
        self.path = path
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
        self.constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}

    def __call__(self, image: Any) -> Any:
        """The graph on `image` (NHWC float32), returning NHWC."""
        from converter.core.errors import BadInput

        values: dict[str, Any] = dict(self.constants)
        values[onnx_graph.graph_input(self.model).name] = Held(image, nhwc=True)
        for node in self.model.graph.node:
            inputs = [values.get(name) if name else None for name in node.input]
            if all(v is None or isinstance(v, np.ndarray) for v in inputs):
                outputs = _evaluate(node, inputs, self.opset)
            else:
                try:
                    outputs = HANDLERS[node.op_type](self, node, inputs)
                except Unsupported as exc:
                    raise BadInput(f"cannot write this graph for TF.js: {exc}", path=self.path,
                                   hint="--format onnx converts it as it is; see README 'Supported ONNX ops'") from None
                outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            for name, value in zip(node.output, outputs):
                values[name] = value
        return self.nhwc(values[self.model.graph.output[0].name])

    # -- layouts --------------------------------------------------------------------------------

    def nchw(self, value: Any) -> Any:
        """The value in ONNX's own layout (a tf tensor or a numpy constant)."""
        if isinstance(value, Held):
            return self.tf.transpose(value.tensor, TO_NCHW) if value.nhwc else value.tensor
        return _tf_constant(value)

    def nhwc(self, value: Any) -> Any:
        """A value broadcasting against 4-D NCHW tensors, laid out NHWC."""
        if isinstance(value, Held):
            if value.nhwc:
                return value.tensor
            tensor, rank = value.tensor, value.tensor.shape.rank
            if rank < 4:
                tensor = self.tf.reshape(tensor, [1] * (4 - rank) + [-1 if d is None else d for d in tensor.shape])
            return self.tf.transpose(tensor, TO_NHWC)
        value = np.asarray(value)
        value = value.reshape((1,) * (4 - value.ndim) + value.shape)
        return _tf_constant(np.transpose(value, TO_NHWC))

    def laid_out(self, inputs: list[Any]) -> tuple[list[Any], bool]:
        """Inputs of an element-wise op in one layout: NHWC when any 4-D
        input already is, so convolutional trunks never leave it."""
        if any(isinstance(v, Held) and v.nhwc for v in inputs) and all(_rank(v) <= 4 for v in inputs):
            return [self.nhwc(v) for v in inputs], True
        return [self.nchw(v) for v in inputs], False

    def dynamic_shape(self, value: Any) -> Any:
        """A held value's NCHW shape as an int32 tensor: its known dimensions
        as constants, the others read at run time."""
        tf = self.tf
        static = _shape_of(self, value)
        dynamic = tf.shape(value.tensor)
        if value.nhwc:
            dynamic = tf.gather(dynamic, list(TO_NCHW))
        if all(d is None for d in static):
            return dynamic
        return tf.stack([d if d is not None else dynamic[k] for k, d in enumerate(static)])

    def target_shape(self, shape: "Held", value: Any, node: Any) -> Any:
        """A Reshape's shape tensor, its constant zeros ("keep this
        dimension") replaced by the input's dimension; elements computed
        from the size are sizes, never zero."""
        from tensorflow.python.framework import tensor_util

        tf = self.tf
        target = tf.cast(shape.tensor, tf.int32)
        if self.attrs(node).get("allowzero", 0) or target.shape.rank != 1 or target.shape[0] is None:
            return target
        known = tensor_util.constant_value_as_shape(target).as_list()
        if 0 not in known:
            return target
        current = self.dynamic_shape(value) if isinstance(value, Held) else np.shape(value)
        return tf.stack([current[k] if d == 0 else target[k] for k, d in enumerate(known)])

    def attrs(self, node: Any) -> dict[str, Any]:
        from onnx import helper

        out = {}
        for a in node.attribute:
            value = helper.get_attribute_value(a)
            out[a.name] = value.decode() if isinstance(value, bytes) else value
        return out


def _rank(value: Any) -> int:
    if isinstance(value, Held):
        return value.tensor.shape.rank
    return np.ndim(value)


def _tf_constant(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype == np.int64:
        return np.clip(value, -INT32_MAX, INT32_MAX).astype(np.int32)
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    return value


def _evaluate(node: Any, inputs: list[Any], opset: int) -> list[Any]:
    """A node on constants, by onnx's reference implementation."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    names = [f"i{k}" if v is not None else "" for k, v in enumerate(inputs)]
    copy = onnx.helper.make_node(node.op_type, names, [f"o{k}" for k in range(len(node.output))],
                                 domain=node.domain or None)
    copy.attribute.extend(node.attribute)
    graph = onnx.helper.make_graph([copy], "fold", [onnx.helper.make_tensor_value_info(n, 0, None) for n in names if n],
                                   [onnx.helper.make_tensor_value_info(o, 0, None) for o in copy.output])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    outputs = ReferenceEvaluator(model).run(None, {n: v for n, v in zip(names, inputs) if n})
    return [np.asarray(o) for o in outputs]


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _static(value: Any, node: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise _needs_size(node, "an input computed from the image where a constant is needed")
    return value


# -- element-wise --------------------------------------------------------------------------------

def _elementwise(fn: Callable[..., Any]) -> Callable[[Interpreter, Any, list[Any]], Held]:
    def handler(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
        values, nhwc = self.laid_out(inputs)
        return Held(fn(self.tf, *values), nhwc)

    return handler


for _name, _fn in {
    "Add": lambda tf, a, b: tf.add(a, b),
    "Sub": lambda tf, a, b: tf.subtract(a, b),
    "Mul": lambda tf, a, b: tf.multiply(a, b),
    "Div": lambda tf, a, b: tf.math.floordiv(a, b) if _integer(a) else tf.divide(a, b),  # sizes: never negative
    "Pow": lambda tf, a, b: tf.square(a) if _is_two(b) else tf.pow(a, tf.cast(b, a.dtype)),
    "Max": lambda tf, *a: _fold(tf.maximum, a),
    "Min": lambda tf, *a: _fold(tf.minimum, a),
    "Sum": lambda tf, *a: _fold(tf.add, a),
    "Equal": lambda tf, a, b: tf.equal(a, b),
    "Mod": lambda tf, a, b: tf.math.floormod(a, b),
    "Where": lambda tf, c, a, b: tf.where(tf.cast(c, tf.bool), a, b),
    "PRelu": lambda tf, x, slope: tf.where(x >= 0, x, x * slope),
}.items():
    HANDLERS.put(_name, _elementwise(_fn))


def _integer(value: Any) -> bool:
    dtype = value.dtype
    return bool(dtype.is_integer) if hasattr(dtype, "is_integer") else np.issubdtype(dtype, np.integer)


def _is_two(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.size == 1 and float(value.reshape(-1)[0]) == 2.0


def _fold(fn: Callable[[Any, Any], Any], values: tuple[Any, ...]) -> Any:
    out = values[0]
    for value in values[1:]:
        out = fn(out, value)
    return out


def _unary(fn: Callable[..., Any]) -> Callable[[Interpreter, Any, list[Any]], Held]:
    def handler(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
        held = inputs[0]
        return Held(fn(self.tf, held.tensor, self.attrs(node)), held.nhwc)

    return handler


for _name, _fn in {
    "Relu": lambda tf, x, a: tf.nn.relu(x),
    "Sigmoid": lambda tf, x, a: tf.sigmoid(x),
    "Tanh": lambda tf, x, a: tf.tanh(x),
    "Erf": lambda tf, x, a: tf.math.erf(x),
    "Sqrt": lambda tf, x, a: tf.sqrt(x),
    "Exp": lambda tf, x, a: tf.exp(x),
    "Log": lambda tf, x, a: tf.math.log(x),
    "Abs": lambda tf, x, a: tf.abs(x),
    "Neg": lambda tf, x, a: tf.negative(x),
    "Reciprocal": lambda tf, x, a: tf.math.reciprocal(x),
    "Softplus": lambda tf, x, a: tf.math.softplus(x),
    "Identity": lambda tf, x, a: x,
    "Dropout": lambda tf, x, a: x,
    "LeakyRelu": lambda tf, x, a: tf.nn.leaky_relu(x, alpha=a.get("alpha", 0.01)),
    "Elu": lambda tf, x, a: tf.nn.elu(x) if a.get("alpha", 1.0) == 1.0 else tf.where(x > 0, x, a["alpha"] * (tf.exp(x) - 1)),
    "HardSigmoid": lambda tf, x, a: tf.clip_by_value(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0.0, 1.0),
    "Gelu": lambda tf, x, a: tf.nn.gelu(x, approximate=a.get("approximate", "none") == "tanh"),
    "Not": lambda tf, x, a: tf.logical_not(tf.cast(x, tf.bool)),
}.items():
    HANDLERS.put(_name, _unary(_fn))


@_op("Cast")
def _cast(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    from onnx import TensorProto

    to = self.attrs(node)["to"]
    dtype = {TensorProto.FLOAT: self.tf.float32, TensorProto.BOOL: self.tf.bool}.get(to, self.tf.int32)
    return Held(self.tf.cast(inputs[0].tensor, dtype), inputs[0].nhwc)


@_op("Clip")
def _clip(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    attrs = self.attrs(node)
    low = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs.get("min", -np.inf)
    high = inputs[2] if len(inputs) > 2 and inputs[2] is not None else attrs.get("max", np.inf)
    x = inputs[0].tensor
    low, high = (float(_static(np.asarray(v) if not isinstance(v, Held) else v, node)) for v in (low, high))
    # One-sided clips stay one-sided: an infinite bound would be a weight,
    # and a quantized weight file cannot hold infinity.
    if low == 0.0 and high == 6.0:
        y = self.tf.nn.relu6(x)
    elif np.isinf(high):
        y = self.tf.maximum(x, low)
    elif np.isinf(low):
        y = self.tf.minimum(x, high)
    else:
        y = self.tf.clip_by_value(x, low, high)
    return Held(y, inputs[0].nhwc)


# -- image ops: NHWC -----------------------------------------------------------------------------

def _pads(pads: list[int]) -> list[list[int]]:
    """ONNX [top, left, bottom, right] as NHWC tf.pad pairs."""
    return [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]]


def _auto_pad(attrs: dict[str, Any], node: Any) -> list[int]:
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unsupported(f"{node.op_type} {node.name!r}: auto_pad {attrs['auto_pad']} (export with explicit pads)")
    return list(attrs.get("pads", [0, 0, 0, 0]))


@_op("Conv")
def _conv(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    tf, attrs = self.tf, self.attrs(node)
    weight = _static(inputs[1], node)
    if weight.ndim != 4:
        raise Unsupported(f"Conv {node.name!r}: {weight.ndim - 2}-D convolution (only 2-D images)")
    x = self.nhwc(inputs[0])
    pads = _auto_pad(attrs, node)
    strides = list(attrs.get("strides", [1, 1]))
    dilations = list(attrs.get("dilations", [1, 1]))
    groups = attrs.get("group", 1)
    if any(pads):
        x = tf.pad(x, _pads(pads))
    kernel = np.transpose(weight, (2, 3, 1, 0))  # (O, I/g, kh, kw) -> (kh, kw, I/g, O)
    out_channels, in_per_group = weight.shape[0], weight.shape[1]
    if groups == 1:
        y = tf.nn.conv2d(x, kernel, strides, "VALID", dilations=dilations)
    elif in_per_group == 1 and out_channels % groups == 0:  # depthwise, with a channel multiplier
        multiplier = out_channels // groups
        depthwise = kernel.reshape(kernel.shape[0], kernel.shape[1], groups, multiplier)
        y = tf.nn.depthwise_conv2d(x, depthwise, [1, *strides, 1], "VALID", dilations=dilations)
    else:  # TF.js has no grouped convolution: one per group
        parts = tf.split(x, groups, axis=3)
        outs = np.split(kernel, groups, axis=3)
        y = tf.concat([tf.nn.conv2d(p, k, strides, "VALID", dilations=dilations) for p, k in zip(parts, outs)], 3)
    if len(inputs) > 2 and inputs[2] is not None:
        y = tf.nn.bias_add(y, _static(inputs[2], node))
    return Held(y, nhwc=True)


@_op("MaxPool", "AveragePool")
def _pool(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    tf, attrs = self.tf, self.attrs(node)
    if attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise Unsupported(f"{node.op_type} {node.name!r}: ceil_mode or dilations")
    kernel, pads = list(attrs["kernel_shape"]), _auto_pad(attrs, node)
    strides = list(attrs.get("strides", [1, 1]))
    x = self.nhwc(inputs[0])
    if node.op_type == "MaxPool":
        if any(pads):
            x = tf.pad(x, _pads(pads), constant_values=float(np.finfo(np.float32).min))  # finite: see Clip
        return Held(tf.nn.max_pool2d(x, kernel, strides, "VALID"), nhwc=True)
    if any(pads) and not attrs.get("count_include_pad", 0):
        raise Unsupported(f"AveragePool {node.name!r}: padding excluded from the average")
    if any(pads):
        x = tf.pad(x, _pads(pads))
    return Held(tf.nn.avg_pool2d(x, kernel, strides, "VALID"), nhwc=True)


@_op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    reduce = self.tf.reduce_mean if node.op_type == "GlobalAveragePool" else self.tf.reduce_max
    return Held(reduce(self.nhwc(inputs[0]), axis=[1, 2], keepdims=True), nhwc=True)


@_op("DepthToSpace")
def _depth_to_space(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    attrs = self.attrs(node)
    r = attrs["blocksize"]
    x = self.nhwc(inputs[0])
    if attrs.get("mode", "DCR") == "CRD":  # PyTorch's order: permute channels to TF's (DCR)
        channels = x.shape[3] // (r * r)
        order = [c * r * r + i * r + j for i in range(r) for j in range(r) for c in range(channels)]
        x = self.tf.gather(x, order, axis=3)
    return Held(self.tf.nn.depth_to_space(x, r), nhwc=True)


@_op("SpaceToDepth")
def _space_to_depth(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    return Held(self.tf.nn.space_to_depth(self.nhwc(inputs[0]), self.attrs(node)["blocksize"]), nhwc=True)


@_op("Resize", "Upsample")
def _resize(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    tf, attrs = self.tf, self.attrs(node)
    x = self.nhwc(inputs[0])
    if node.op_type == "Upsample":
        scales, sizes = _static(inputs[1], node), None
    else:
        scales = inputs[2] if len(inputs) > 2 and inputs[2] is not None and np.size(inputs[2]) else None
        sizes = inputs[3] if len(inputs) > 3 and inputs[3] is not None else None
    if isinstance(sizes, Held):  # computed from the size at run time
        size = tf.cast(sizes.tensor[2:4], tf.int32)
    elif sizes is not None:
        size = [int(v) for v in _static(sizes, node)[2:4]]
    else:
        scale_h, scale_w = (float(v) for v in _static(scales, node)[2:4])
        if x.shape[1] is not None and x.shape[2] is not None:
            size = [int(x.shape[1] * scale_h), int(x.shape[2] * scale_w)]
        else:
            size = tf.cast(tf.cast(tf.shape(x)[1:3], tf.float32) * [scale_h, scale_w], tf.int32)
    mode = attrs.get("mode", "nearest")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel" if node.op_type == "Resize" else "asymmetric")
    if mode == "nearest" and transform == "asymmetric" and attrs.get("nearest_mode", "floor") == "floor":
        y = tf.compat.v1.image.resize_nearest_neighbor(x, size, align_corners=False, half_pixel_centers=False)
    elif mode == "linear" and transform in ("half_pixel", "pytorch_half_pixel"):
        y = tf.image.resize(x, size, method="bilinear")  # half-pixel centres
    elif mode == "linear" and transform == "align_corners":
        y = tf.compat.v1.image.resize_bilinear(x, size, align_corners=True, half_pixel_centers=False)
    else:
        raise Unsupported(f"Resize {node.name!r}: {mode} with {transform} coordinates")
    return Held(y, nhwc=True)


@_op("InstanceNormalization", "BatchNormalization")
def _normalization(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    tf, attrs = self.tf, self.attrs(node)
    scale, bias = _static(inputs[1], node), _static(inputs[2], node)
    epsilon = attrs.get("epsilon", 1e-5)
    rank = _rank(inputs[0])
    if rank == 4:  # per channel, over space: NHWC, channels last, where per-channel vectors broadcast
        x, axes, nhwc = self.nhwc(inputs[0]), [1, 2], True
        per_channel = np.asarray
    else:  # GroupNorm exported as InstanceNormalization over (N, groups, -1)
        x, axes, nhwc = self.nchw(inputs[0]), list(range(2, rank)), False

        def per_channel(v: np.ndarray) -> np.ndarray:
            return v.reshape((-1,) + (1,) * (rank - 2))

    scale, bias = per_channel(scale), per_channel(bias)
    if node.op_type == "BatchNormalization":
        mean, variance = per_channel(_static(inputs[3], node)), per_channel(_static(inputs[4], node))
    else:
        mean, variance = tf.nn.moments(x, axes=axes, keepdims=True)
    return Held(tf.nn.batch_normalization(x, mean, variance, bias, scale, epsilon), nhwc)


# -- ops with an axis: in either layout ----------------------------------------------------------

def _held_axis(self: Interpreter, value: Any, axis: int) -> tuple[Any, int]:
    """The tensor as held, and where ONNX's `axis` of it lives there."""
    if isinstance(value, Held) and value.nhwc:
        return value.tensor, NHWC_AXIS[_axis(axis, 4)]
    return self.nchw(value), _axis(axis, _rank(value))


@_op("Concat")
def _concat(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    axis = self.attrs(node)["axis"]
    if any(isinstance(v, Held) and v.nhwc for v in inputs) and all(_rank(v) == 4 for v in inputs):
        return Held(self.tf.concat([self.nhwc(v) for v in inputs], NHWC_AXIS[_axis(axis, 4)]), nhwc=True)
    return Held(self.tf.concat([self.nchw(v) for v in inputs], _axis(axis, _rank(inputs[0]))))


@_op("Split")
def _split(self: Interpreter, node: Any, inputs: list[Any]) -> list[Held]:
    attrs = self.attrs(node)
    tensor, axis = _held_axis(self, inputs[0], attrs.get("axis", 0))
    sizes = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs.get("split")
    if sizes is None:
        parts = self.tf.split(tensor, attrs.get("num_outputs", len(node.output)), axis=axis)
    else:
        parts = self.tf.split(tensor, [int(s) for s in _static(np.asarray(sizes), node)], axis=axis)
    return [Held(p, inputs[0].nhwc) for p in parts]


@_op("Slice")
def _slice(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    """Starts and ends may be computed from the size (a crop by the scale):
    then begin and end are tensors, packed from constants and scalars."""
    tensor = inputs[0]
    rank = _rank(tensor)
    count = len(_static(inputs[3], node)) if len(inputs) > 3 and inputs[3] is not None else _length(inputs[1])
    starts, ends = _elements(inputs[1], count), _elements(inputs[2], count)
    axes = _static(inputs[3], node) if len(inputs) > 3 and inputs[3] is not None else np.arange(count)
    steps = _static(inputs[4], node) if len(inputs) > 4 and inputs[4] is not None else np.ones(count, np.int64)
    held, nhwc = (tensor.tensor, True) if isinstance(tensor, Held) and tensor.nhwc else (self.nchw(tensor), False)
    begin, end, stride = [0] * rank, [0] * rank, [1] * rank
    begin_mask = end_mask = (1 << rank) - 1
    whole_reversal = [(a, st, sp) for st, sp, a, step in zip(starts, ends, axes, steps)
                      if step == -1 and not _is_tensor(st) and st == -1 and not _is_tensor(sp) and sp <= -INT32_MAX]
    if whole_reversal and len(whole_reversal) == count:
        # torch's F.pad reverses its pads so. As a negative-stride strided
        # slice of computed pads, TF.js 4.22 (wasm) padded nothing: DAT's
        # graph failed at 37x29. tf.reverse (TF.js's Reverse) is right.
        axes_at = [NHWC_AXIS[_axis(int(a), rank)] if nhwc else _axis(int(a), rank) for a, _, _ in whole_reversal]
        return Held(self.tf.reverse(held, axes_at), nhwc)
    for start, stop, axis, step in zip(starts, ends, axes, steps):
        axis = _axis(int(axis), rank)
        at = NHWC_AXIS[axis] if nhwc else axis
        begin[at], end[at], stride[at] = (_clipped(v) for v in (start, stop, step))
        begin_mask &= ~(1 << at)
        end_mask &= ~(1 << at)
        if step < 0 and not _is_tensor(stop) and stop <= -INT32_MAX:  # "to the very start", which a clipped end cannot say
            end_mask |= 1 << at
    free = any(_is_tensor(v) for v in begin + end) or None in held.shape.as_list()
    if free and all(step == 1 for step in stride):
        return Held(_sliced(self.tf, held, begin, end, begin_mask, end_mask), nhwc)
    if any(_is_tensor(v) for v in begin + end):
        begin, end = self.tf.stack(begin), self.tf.stack(end)
    out = self.tf.strided_slice(held, begin, end, stride, begin_mask=begin_mask, end_mask=end_mask)
    return Held(out, nhwc)


def _sliced(tf: Any, held: Any, begin: list[Any], end: list[Any], begin_mask: int, end_mask: int) -> Any:
    """A unit-stride slice of a tensor whose size is free, as tf.slice with
    bounds counted from the start, clamped to the dimension, and a size that
    is never negative (an empty slice is size 0). TF.js 4.22's strided slice
    turns such bounds into a negative size and stops ("Negative size values
    should be exactly -1", SwinIR's and SRFormer's shifted-window masks)."""
    dims = held.shape.as_list()
    shape = tf.shape(held)
    starts, sizes = [], []
    for at in range(len(dims)):
        dim = dims[at] if dims[at] is not None else shape[at]
        low = 0 if begin_mask & (1 << at) else _within(tf, begin[at], dim)
        high = dim if end_mask & (1 << at) else _within(tf, end[at], dim)
        starts.append(low)
        sizes.append(max(0, high - low) if not (_is_tensor(low) or _is_tensor(high)) else tf.maximum(high - low, 0))
    if not any(_is_tensor(v) for v in starts + sizes):
        return tf.slice(held, starts, sizes)
    return tf.slice(held, tf.stack(starts), tf.stack(sizes))


def _within(tf: Any, bound: Any, dim: Any) -> Any:
    """An ONNX slice bound (negative: from the end) as an index in [0, dim]."""
    if not _is_tensor(bound) and not _is_tensor(dim):
        return min(max(0, bound + dim if bound < 0 else bound), dim)
    if not _is_tensor(bound) and bound == 0:  # the start: within every dimension, no op needed
        return 0
    if not _is_tensor(bound) and bound > 0:
        return tf.minimum(bound, dim)
    bound = tf.convert_to_tensor(bound, tf.int32)
    return tf.clip_by_value(tf.where(bound < 0, bound + dim, bound), 0, dim)


def _length(value: Any) -> int:
    if isinstance(value, Held):
        return int(value.tensor.shape[0])
    return int(np.size(value))


def _elements(value: Any, count: int) -> list[Any]:
    """A 1-D value's elements: ints of a constant, int32 scalars of a tensor."""
    if isinstance(value, Held):
        import tensorflow as tf

        vector = tf.cast(value.tensor, tf.int32)
        return [vector[k] for k in range(count)]
    return [int(v) for v in np.asarray(value).reshape(-1)[:count]]


def _is_tensor(value: Any) -> bool:
    return not isinstance(value, (int, np.integer))


def _clipped(value: Any) -> Any:
    return value if _is_tensor(value) else int(np.clip(value, -INT32_MAX, INT32_MAX))


@_op("Softmax")
def _softmax(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    axis = self.attrs(node).get("axis", -1 if self.opset >= 13 else 1)
    if self.opset < 13 and _axis(axis, _rank(inputs[0])) != _rank(inputs[0]) - 1:
        raise Unsupported(f"Softmax {node.name!r}: opset < 13 flattening softmax")
    tensor, at = _held_axis(self, inputs[0], axis)
    return Held(self.tf.nn.softmax(tensor, axis=at), isinstance(inputs[0], Held) and inputs[0].nhwc)


REDUCTIONS = {
    "ReduceMean": lambda tf, x, axes, keep: tf.reduce_mean(x, axes, keepdims=keep),
    "ReduceSum": lambda tf, x, axes, keep: tf.reduce_sum(x, axes, keepdims=keep),
    "ReduceMax": lambda tf, x, axes, keep: tf.reduce_max(x, axes, keepdims=keep),
    "ReduceMin": lambda tf, x, axes, keep: tf.reduce_min(x, axes, keepdims=keep),
    "ReduceL2": lambda tf, x, axes, keep: tf.sqrt(tf.reduce_sum(tf.square(x), axes, keepdims=keep)),
}


@_op(*REDUCTIONS)
def _reduce(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    attrs = self.attrs(node)
    axes = attrs.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:
        axes = _static(inputs[1], node).tolist()
    keep = bool(attrs.get("keepdims", 1))
    rank = _rank(inputs[0])
    axes = list(range(rank)) if not axes else [_axis(int(a), rank) for a in axes]
    if keep and isinstance(inputs[0], Held) and inputs[0].nhwc:
        return Held(REDUCTIONS[node.op_type](self.tf, inputs[0].tensor, [NHWC_AXIS[a] for a in axes], True), True)
    return Held(REDUCTIONS[node.op_type](self.tf, self.nchw(inputs[0]), axes, keep))


@_op("Pad")
def _pad(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    attrs = self.attrs(node)
    mode = attrs.get("mode", "constant")
    if self.opset >= 11 and isinstance(inputs[1], Held):  # pads to a multiple of a window, at run time
        return _pad_by(self, node, inputs, mode)
    pads = attrs.get("pads") if self.opset < 11 else _static(inputs[1], node).tolist()
    value = 0.0
    if len(inputs) > 2 and inputs[2] is not None and np.size(inputs[2]):
        value = float(np.asarray(_static(inputs[2], node)).reshape(-1)[0])
    rank = _rank(inputs[0])
    if len(inputs) > 3 and inputs[3] is not None:
        raise Unsupported(f"Pad {node.name!r}: the axes input")
    pairs = [[int(pads[i]), int(pads[i + rank])] for i in range(rank)]
    if min(min(p) for p in pairs) < 0:
        raise Unsupported(f"Pad {node.name!r}: negative pads")
    nhwc = isinstance(inputs[0], Held) and inputs[0].nhwc
    tensor = inputs[0].tensor if nhwc else self.nchw(inputs[0])
    if nhwc:
        pairs = [pairs[a] for a in TO_NHWC]  # NHWC position k holds NCHW axis TO_NHWC[k]
    if mode == "constant":
        return Held(self.tf.pad(tensor, pairs, constant_values=value), nhwc)
    if mode == "reflect":
        return Held(self.tf.pad(tensor, pairs, mode="REFLECT"), nhwc)
    if mode == "edge" and max(max(p) for p in pairs) <= 1:  # one pixel of edge is its mirror image
        return Held(self.tf.pad(tensor, pairs, mode="SYMMETRIC"), nhwc)
    raise Unsupported(f"Pad {node.name!r}: {mode} padding")


def _pad_by(self: Interpreter, node: Any, inputs: list[Any], mode: str) -> Held:
    """Pad whose amounts are computed from the size: ONNX's [begins, ends]
    as TF's (rank, 2) pairs, in the held layout. Sizes padded up to a
    multiple are never negative."""
    tf = self.tf
    if len(inputs) > 3 and inputs[3] is not None:
        raise Unsupported(f"Pad {node.name!r}: the axes input")
    if mode not in ("constant", "reflect"):
        raise _needs_size(node, f"{mode} padding by an amount computed from the size")
    value = 0.0
    if len(inputs) > 2 and inputs[2] is not None and np.size(inputs[2]):
        value = float(np.asarray(_static(inputs[2], node)).reshape(-1)[0])
    rank = _rank(inputs[0])
    pairs = tf.transpose(tf.reshape(tf.cast(inputs[1].tensor, tf.int32), [2, rank]))
    nhwc = isinstance(inputs[0], Held) and inputs[0].nhwc
    tensor = inputs[0].tensor if nhwc else self.nchw(inputs[0])
    if nhwc:
        pairs = tf.gather(pairs, list(TO_NHWC))
    if mode == "reflect":
        return Held(tf.pad(tensor, pairs, mode="REFLECT"), nhwc)
    return Held(tf.pad(tensor, pairs, constant_values=value), nhwc)


@_op("ConstantOfShape")
def _constant_of_shape(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    from onnx import numpy_helper

    attrs = {a.name: a for a in node.attribute}
    value = numpy_helper.to_array(attrs["value"].t).reshape(-1)[0] if "value" in attrs else np.float32(0)
    value = _tf_constant(np.asarray(value))
    return Held(self.tf.fill(self.tf.cast(inputs[0].tensor, self.tf.int32), value))


@_op("Range")
def _range(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    tf = self.tf
    dtype = tf.int32 if _integer(inputs[0]) else tf.float32
    start, limit, delta = (tf.cast(v.tensor if isinstance(v, Held) else _tf_constant(np.asarray(v)), dtype)
                           for v in inputs)
    return Held(tf.range(start, limit, delta))


# -- ops on the memory order: ONNX's layout ------------------------------------------------------

def _shape_of(self: Interpreter, value: Any) -> list[int | None]:
    if isinstance(value, Held):
        shape = value.tensor.shape.as_list()
        return [shape[a] for a in TO_NCHW] if value.nhwc else shape
    return list(np.shape(value))


@_op("Shape", "Size")
def _shape(self: Interpreter, node: Any, inputs: list[Any]) -> Any:
    """A constant where every dimension is known; else an int32 tensor
    holding the known ones as constants, so TF's shape inference keeps them."""
    shape = _shape_of(self, inputs[0])
    attrs = self.attrs(node)
    if all(d is not None for d in shape):
        if node.op_type == "Size":
            return np.asarray(np.prod(shape), np.int64)
        return np.asarray(shape, np.int64)[attrs.get("start", 0):attrs.get("end", len(shape))]
    dynamic = self.dynamic_shape(inputs[0])
    if node.op_type == "Size":
        return Held(self.tf.reduce_prod(dynamic))
    return Held(dynamic[attrs.get("start", 0):attrs.get("end", len(shape))])


@_op("Reshape")
def _reshape(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    if isinstance(inputs[1], Held):  # computed from the size: a shape tensor
        return Held(self.tf.reshape(self.nchw(inputs[0]), self.target_shape(inputs[1], inputs[0], node)))
    shape = _static(inputs[1], node).astype(np.int64).tolist()
    current = _shape_of(self, inputs[0])
    if not self.attrs(node).get("allowzero", 0):
        shape = [current[i] if d == 0 else d for i, d in enumerate(shape)]
    if any(d is None for d in shape):  # keeps a dimension of free size: read at run time
        if not isinstance(inputs[0], Held):
            raise _needs_size(node, "keeps a dimension of unknown size")
        dynamic = self.dynamic_shape(inputs[0])
        shape = self.tf.stack([dynamic[i] if d is None else d for i, d in enumerate(shape)])
    return Held(self.tf.reshape(self.nchw(inputs[0]), shape))


@_op("Flatten")
def _flatten(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    shape = _shape_of(self, inputs[0])
    axis = _axis(self.attrs(node).get("axis", 1), len(shape))
    lead = int(np.prod(shape[:axis])) if all(d is not None for d in shape[:axis]) else -1
    return Held(self.tf.reshape(self.nchw(inputs[0]), [lead, -1]))


@_op("Transpose")
def _transpose(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    perm = self.attrs(node).get("perm")
    value = inputs[0]
    if perm is not None and isinstance(value, Held) and value.nhwc:  # compose with the held layout
        return Held(self.tf.transpose(value.tensor, [NHWC_AXIS[p] for p in perm]))
    return Held(self.tf.transpose(self.nchw(value), perm))


@_op("Squeeze", "Unsqueeze")
def _squeeze(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    axes = self.attrs(node).get("axes")
    if axes is None and len(inputs) > 1:
        axes = _static(inputs[1], node).tolist()
    x = self.nchw(inputs[0])
    if node.op_type == "Squeeze":
        return Held(self.tf.squeeze(x, axis=axes))
    rank = _rank(inputs[0]) + len(axes)
    for axis in sorted(_axis(int(a), rank) for a in axes):
        x = self.tf.expand_dims(x, axis)
    return Held(x)


@_op("Expand")
def _expand(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    if isinstance(inputs[1], Held):  # ONNX broadcasts both ways, as multiplying by ones does
        tf, x = self.tf, self.nchw(inputs[0])
        ones = tf.ones(tf.cast(inputs[1].tensor, tf.int32), dtype=tf.int32 if x.dtype == tf.bool else x.dtype)
        return Held(tf.cast(tf.cast(x, tf.int32) * ones, tf.bool) if x.dtype == tf.bool else x * ones)
    shape = _shape_of(self, inputs[0])
    target = _static(inputs[1], node).tolist()
    full = np.broadcast_shapes(tuple(1 if d is None else d for d in shape), tuple(target))
    return Held(self.tf.broadcast_to(self.nchw(inputs[0]), full))


@_op("Tile")
def _tile(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    return Held(self.tf.tile(self.nchw(inputs[0]), _static(inputs[1], node).astype(np.int32)))


@_op("Gather")
def _gather(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    indices = _static(inputs[1], node)
    rank = _rank(inputs[0])
    axis = _axis(self.attrs(node).get("axis", 0), rank)
    size = _shape_of(self, inputs[0])[axis]
    if size is not None:
        indices = np.where(indices < 0, indices + size, indices)
    return Held(self.tf.gather(self.nchw(inputs[0]), indices.astype(np.int32), axis=axis))


@_op("MatMul")
def _matmul(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    return Held(self.tf.linalg.matmul(self.nchw(inputs[0]), self.nchw(inputs[1])))


@_op("Gemm")
def _gemm(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    tf, attrs = self.tf, self.attrs(node)
    y = tf.linalg.matmul(self.nchw(inputs[0]), self.nchw(inputs[1]), transpose_a=bool(attrs.get("transA", 0)),
                         transpose_b=bool(attrs.get("transB", 0)))
    if attrs.get("alpha", 1.0) != 1.0:
        y = y * attrs["alpha"]
    if len(inputs) > 2 and inputs[2] is not None:
        y = y + attrs.get("beta", 1.0) * self.nchw(inputs[2])
    return Held(y)


@_op("Einsum")
def _einsum(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    equation = self.attrs(node)["equation"].replace(" ", "")
    a, b = (self.nchw(v) for v in inputs)
    transposed = onnx_ops.einsum_as_matmul(equation, len(inputs))
    if transposed is not None:
        return Held(self.tf.linalg.matmul(a, b, transpose_b=transposed))
    return Held(self.tf.einsum(equation, a, b))


@_op("LayerNormalization")
def _layer_norm(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    tf, attrs = self.tf, self.attrs(node)
    x = self.nchw(inputs[0])
    rank = _rank(inputs[0])
    axes = list(range(_axis(attrs.get("axis", -1), rank), rank))
    mean, variance = tf.nn.moments(x, axes=axes, keepdims=True)
    y = (x - mean) * tf.math.rsqrt(variance + attrs.get("epsilon", 1e-5)) * self.nchw(inputs[1])
    if len(inputs) > 2 and inputs[2] is not None:
        y = y + self.nchw(inputs[2])
    return Held(y)


@_op("ScatterND")
def _scatter_nd(self: Interpreter, node: Any, inputs: list[Any]) -> Held:
    indices = inputs[1]
    indices = self.tf.cast(indices.tensor, self.tf.int32) if isinstance(indices, Held) else indices.astype(np.int32)
    return Held(self.tf.tensor_scatter_nd_update(self.nchw(inputs[0]), indices, self.nchw(inputs[2])))


@_op("TopK")
def _top_k(self: Interpreter, node: Any, inputs: list[Any]) -> list[Held]:
    """tf.math.top_k takes the largest along the last axis: other axes are
    moved there and back, and the smallest are the largest of the negation.
    Both outputs come sorted, which `sorted=0` (any order) allows."""
    tf, attrs = self.tf, self.attrs(node)
    k = int(np.asarray(_static(inputs[1], node)).reshape(-1)[0])
    tensor, axis = _held_axis(self, inputs[0], attrs.get("axis", -1))
    rank = _rank(inputs[0])
    largest = attrs.get("largest", 1)
    order = [a for a in range(rank) if a != axis] + [axis]
    back = list(np.argsort(order))
    moved = tensor if axis == rank - 1 else tf.transpose(tensor, order)
    values, indices = tf.math.top_k(moved if largest else -moved, k=k, sorted=True)
    values = values if largest else -values
    if axis != rank - 1:
        values, indices = tf.transpose(values, back), tf.transpose(indices, back)
    nhwc = isinstance(inputs[0], Held) and inputs[0].nhwc
    return [Held(values, nhwc), Held(indices, nhwc)]


onnx_ops.check(HANDLERS.names(), tf=True)  # what this translation writes is what the op registry says
