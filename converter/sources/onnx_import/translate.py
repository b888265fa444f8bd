"""ONNX graph (NCHW) -> Keras 2 functional topology (NHWC) and weights.

Every activation becomes a Keras layer; constants, and shape subgraphs whose
probed values are the same at every input size, fold away; chains of
Reshape/Transpose are matched against pixel (un)shuffle by the values they
move at the probe. Channel orders that differ between PyTorch and TensorFlow
(DepthToSpace CRD, pixel_unshuffle) are fixed by permuting the adjacent
convolution's channels, or an exact 1x1 permutation convolution.

Nodes that read the same initializers with the same attributes (a recursive
network's block, applied again and again) become one Keras layer called once
per node, so its weights are written once (`KerasGraph.share`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from converter.core.dispatch import registrar
from converter.core.registry import Registry
from converter.core.errors import BadInput
from converter.graphs import onnx_ops
from converter.graphs.layout import NHWC_AXIS
from converter.sources.onnx_import.graph import ProbeRuns
from converter.sources.onnx_import.keras_graph import KerasGraph

# Ops that only move data around: chains of them between two 4-D activations
# are identified as a whole (pixel (un)shuffle), never translated one by one.
MOVEMENT_OPS = onnx_ops.handled(onnx_ops.MOVEMENT)
# Ops that compute shapes and indices; they fold into constants at the probe.
SHAPE_OPS = onnx_ops.handled(onnx_ops.SHAPE)
OP_HANDLERS: Registry[Callable[[Any, Any], str | None]] = Registry("ONNX op the Keras rebuild translates")
"""Ops on image tensors: op type -> Translator method giving its Keras layer."""
_translates = registrar(OP_HANDLERS)


@dataclass
class Act:
    """An activation: the Keras layer whose output holds it (NHWC)."""

    layer: str


@dataclass
class Moved:
    """An activation inside a Reshape/Transpose chain, leaving 4-D `entry`."""

    entry: str  # ONNX name of the 4-D activation the chain started from


@dataclass
class Translator:
    model: Any
    probe: ProbeRuns
    path: Path
    graph: KerasGraph = field(init=False)
    values: dict[str, Any] = field(default_factory=dict)  # ONNX name -> Act | Moved | np.ndarray | None
    consumers: dict[str, int] = field(default_factory=dict)
    producer_layer: dict[str, str] = field(default_factory=dict)  # Keras layer -> its ONNX output
    producers: dict[str, Any] = field(default_factory=dict)  # ONNX name -> the node computing it
    converted: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # see `_converted`

    def __post_init__(self) -> None:
        from onnx import numpy_helper

        self.graph = KerasGraph("onnx_model")
        for init in self.model.graph.initializer:
            self.values[init.name] = numpy_helper.to_array(init)
        for node in self.model.graph.node:
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
            for name in node.output:
                self.producers[name] = node

    # -- values ---------------------------------------------------------------------------------

    def probed(self, name: str, run: int = 0) -> np.ndarray:
        return self.probe.values[run][name]

    def const(self, name: str) -> np.ndarray | None:
        value = self.values.get(name)
        return value if isinstance(value, np.ndarray) else None

    def is_activation(self, name: str) -> bool:
        return isinstance(self.values.get(name), (Act, Moved))

    def act(self, name: str, node: Any) -> str:
        """The Keras layer holding activation `name`, resolving a data-movement chain."""
        value = self.values.get(name)
        if isinstance(value, Act):
            return value.layer
        if isinstance(value, Moved):
            layer = self._resolve_movement(value.entry, name, node)
            self.values[name] = Act(layer)
            return layer
        raise self._error(node, f"input {name!r} is not an image tensor")

    def _error(self, node: Any, message: str) -> BadInput:
        return BadInput(f"{node.op_type} node {node.name or node.output[0]!r}: {message}", path=self.path,
                        hint="see README 'Supported ONNX ops'")

    # -- the walk -------------------------------------------------------------------------------

    def run(self, input_name: str, channels: int, output_name: str) -> dict[str, Any]:
        self.values[input_name] = Act(self.graph.input(channels))
        for node in self.model.graph.node:
            self._node(node)
        layer = self.act(output_name, self.model.graph.node[-1])
        self.graph.share()
        return self.graph.topology(layer)

    def _node(self, node: Any) -> None:
        inputs = [n for n in node.input if n]
        op = node.op_type
        if op == "Constant" or (inputs and all(self.const(n) is not None for n in inputs)) or not inputs:
            self._fold(node)
        elif not any(self.is_activation(n) for n in inputs) or op == "Shape":
            self._fold_shape(node)
        elif op in MOVEMENT_OPS:
            source = self.values[inputs[0]]
            entry = source.entry if isinstance(source, Moved) else inputs[0]
            self.values[node.output[0]] = Moved(entry)
        elif op in OP_HANDLERS:
            layer = OP_HANDLERS[op](self, node)
            if layer is not None:
                self.values[node.output[0]] = Act(layer)
                self.producer_layer[layer] = node.output[0]
        else:
            raise self._error(node, "not supported on image tensors")

    def _fold(self, node: Any) -> None:
        for name in node.output:
            if name:
                self.values[name] = self.probed(name)

    def _fold_shape(self, node: Any) -> None:
        """Shape arithmetic: constant if its value is the same at both probe sizes."""
        for name in node.output:
            if not name:
                continue
            first, second = self.probed(name, 0), self.probed(name, 1)
            same = first.shape == second.shape and np.array_equal(first, second)
            self.values[name] = first if same else None  # None: varies with the input size

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def attrs(node: Any) -> dict[str, Any]:
        """The node's attributes, strings decoded once, here (ONNX stores them as bytes)."""
        from onnx import helper

        return {a.name: _text(helper.get_attribute_value(a), node) for a in node.attribute}

    def _hint(self, node: Any) -> str:
        return node.name or node.output[0]

    def _scale_factor(self, node: Any, source: str) -> tuple[int, int]:
        """Integer (height, width) factor from the probed shapes; same at both sizes."""
        factors = set()
        for run in (0, 1):
            before, after = self.probed(source, run).shape, self.probed(node.output[0], run).shape
            if after[2] % before[2] or after[3] % before[3]:
                raise self._error(node, f"resizes {before[2:]} to {after[2:]}: not an integer upscale")
            factors.add((after[2] // before[2], after[3] // before[3]))
        if len(factors) != 1:
            raise self._error(node, "its output size does not scale with the input")
        return factors.pop()

    def _channel_constant(self, node: Any, value: np.ndarray) -> np.ndarray | float:
        """A scalar, or a per-channel vector from an NCHW-broadcast constant."""
        if value.size == 1:
            return float(value.reshape(()))
        squeezed = value.reshape(-1)
        if value.ndim >= 3 and value.shape[-2:] == (1, 1) and value.size == squeezed.size:
            return squeezed.astype(np.float32)
        raise self._error(node, f"a constant shaped {list(value.shape)} is neither a scalar nor per-channel")

    def _converted(self, name: str, layout: str, convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Constant `name` in a Keras `layout`, converted once: the nodes that
        share an initializer then hold one array, not a copy each (400 of them
        in issue 24's model)."""
        key = (name, layout)
        if key not in self.converted:
            self.converted[key] = np.ascontiguousarray(convert(self.const(name)), dtype=np.float32)
        return self.converted[key]

    def _kernel_shared(self, layer: str) -> bool:
        """Whether other ONNX nodes read the kernel of the Conv `layer` was made from."""
        node = self.producers.get(self.producer_layer.get(layer, ""))
        return node is not None and node.op_type == "Conv" and self.consumers.get(node.input[1], 0) > 1

    def _per_channel(self, hint: str, source: str, scale, offset) -> str:
        """x * scale + offset, per channel (exact: a 1x1 depthwise convolution)
        or for scalars a MultiplyBeta / Rescaling layer."""
        if np.ndim(scale) == 0 and np.ndim(offset) == 0:
            if offset == 0.0:
                return self.graph.add("MultiplyBeta", hint, [source], {"beta": float(scale)})
            return self.graph.add("Rescaling", hint, [source], {"scale": float(scale), "offset": float(offset)})
        channels = max(np.size(scale), np.size(offset))
        scale = np.broadcast_to(np.asarray(scale, np.float32), (channels,))
        offset = np.broadcast_to(np.asarray(offset, np.float32), (channels,))
        return self.graph.add(
            "DepthwiseConv2D", hint, [source],
            {"kernel_size": [1, 1], "strides": [1, 1], "padding": "valid", "depth_multiplier": 1, "use_bias": True,
             "activation": "linear"},
            [scale.reshape(1, 1, channels, 1), offset],
        )

    def _permute_channels(self, hint: str, source: str, order: np.ndarray) -> str:
        """Output channel j = input channel order[j]: folded into the producing
        convolution when nothing else reads it, else an exact 1x1 convolution.
        A convolution whose weights other nodes share keeps them: a 1x1
        permutation costs channels^2 weights, a permuted copy of a 3x3 kernel
        nine times that."""
        layer = self.graph.layer(source)
        onnx_name = self.producer_layer.get(source)
        if (layer["class_name"] == "Conv2D" and onnx_name is not None and self.consumers.get(onnx_name, 0) == 1
                and not self._kernel_shared(source)):
            kernel, *bias = self.graph.weights[source]
            self.graph.weights[source] = [kernel[..., order], *(b[order] for b in bias)]
            return source
        n = len(order)
        matrix = np.zeros((1, 1, n, n), np.float32)
        matrix[0, 0, order, np.arange(n)] = 1.0
        return self.graph.add("Conv2D", hint + "_channel_order", [source],
                              {"filters": n, "kernel_size": [1, 1], "padding": "valid", "use_bias": False,
                               "activation": "linear"}, [matrix])

    # -- data movement ---------------------------------------------------------------------------

    def _resolve_movement(self, entry: str, exit_name: str, node: Any) -> str:
        """Identify the Reshape/Transpose chain from `entry` to `exit_name` by the
        values it moved at the probe."""
        source = self.act(entry, node)
        before, after = self.probed(entry), self.probed(exit_name)
        if after.ndim == 4 and before.ndim == 4:
            n, c, h, w = before.shape
            for s in range(2, 9):
                if after.shape == (n, c * s * s, h // s, w // s) and h % s == 0 and w % s == 0:
                    if np.array_equal(after, _torch_pixel_unshuffle(before, s)):
                        return self._pixel_unshuffle(f"{entry}_unshuffle", source, s, c)
                if after.shape == (n, c // (s * s), h * s, w * s) and c % (s * s) == 0:
                    for mode in ("CRD", "DCR"):
                        if np.array_equal(after, _depth_to_space(before, s, mode)):
                            return self._depth_to_space(f"{entry}_shuffle", source, s, c, mode)
            if after.shape == before.shape and np.array_equal(after, before):
                return source
        raise self._error(node, f"a Reshape/Transpose chain from {list(before.shape)} to {list(after.shape)} "
                                "that is not a pixel (un)shuffle")

    def _pixel_unshuffle(self, hint: str, source: str, s: int, channels: int) -> str:
        layer = self.graph.add("PixelUnshuffle", hint, [source], {"scale": s})
        # PyTorch orders channels (c, dy, dx); space-to-depth gives (dy, dx, c).
        order = np.array([(dy * s + dx) * channels + c for c in range(channels) for dy in range(s) for dx in range(s)])
        return self._permute_channels(hint, layer, order)

    def _depth_to_space(self, hint: str, source: str, s: int, channels: int, mode: str) -> str:
        if mode == "CRD":
            # TF's depth_to_space reads (dy, dx, c); CRD stores (c, dy, dx).
            out = channels // (s * s)
            order = np.array([c * s * s + dy * s + dx for dy in range(s) for dx in range(s) for c in range(out)])
            source = self._permute_channels(hint, source, order)
        return self.graph.add("PixelShuffle", hint, [source], {"scale": s})

    # -- ops -----------------------------------------------------------------------------------

    @_translates("Identity", "Dropout")
    def _op_Identity(self, node: Any) -> str:
        return self.act(node.input[0], node)


    @_translates("Conv")
    def _op_Conv(self, node: Any) -> str:
        a = self.attrs(node)
        weight = self.const(node.input[1])
        if weight is None or weight.ndim != 4:
            raise self._error(node, "needs a constant 4-D weight")
        bias = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        out_ch, in_per_group, kh, kw = weight.shape
        group = int(a.get("group", 1))
        strides = list(a.get("strides", [1, 1]))
        dilations = list(a.get("dilations", [1, 1]))
        source = self._pad_for(node, a, (kh, kw), strides, dilations)
        padding = "same" if source[1] else "valid"
        source = source[0]
        common = {"kernel_size": [kh, kw], "strides": strides, "dilation_rate": dilations, "padding": padding,
                  "activation": "linear", "use_bias": bias is not None}
        extra = [] if bias is None else [bias]
        if group == 1:
            kernel = self._converted(node.input[1], "hwio", lambda w: w.transpose(2, 3, 1, 0))
            return self.graph.add("Conv2D", self._hint(node), [source], {"filters": out_ch, **common},
                                  [kernel, *extra])
        if in_per_group == 1 and out_ch % group == 0:
            multiplier = out_ch // group
            kernel = self._converted(node.input[1], f"depthwise{group}",
                                     lambda w: w.reshape(group, multiplier, kh, kw).transpose(2, 3, 0, 1))
            return self.graph.add("DepthwiseConv2D", self._hint(node), [source],
                                  {"depth_multiplier": multiplier, **common}, [kernel, *extra])
        raise self._error(node, f"grouped convolution (group={group}) other than depthwise")

    def _pad_for(self, node, a, kernel, strides, dilations) -> tuple[str, bool]:
        """(source layer, use 'same'): symmetric stride-1 'same' pads map to
        padding='same'; anything else becomes an explicit ZeroPadding2D."""
        source = self.act(node.input[0], node)
        pads = list(a.get("pads", [0, 0, 0, 0]))
        auto = a.get("auto_pad", "NOTSET")
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            if strides != [1, 1]:
                raise self._error(node, f"auto_pad {auto} with strides {strides}")
            return source, True
        top, left, bottom, right = pads
        same = [d * (k - 1) for k, d in zip(kernel, dilations)]
        if strides == [1, 1] and top + bottom == same[0] and left + right == same[1] and top == bottom and left == right:
            return source, True
        if any(pads):
            source = self.graph.add("ZeroPadding2D", self._hint(node) + "_pad", [source],
                                    {"padding": [[top, bottom], [left, right]], "data_format": "channels_last"})
        return source, False

    @_translates("ConvTranspose")
    def _op_ConvTranspose(self, node: Any) -> str:
        a = self.attrs(node)
        weight = self.const(node.input[1])
        if weight is None or int(a.get("group", 1)) != 1:
            raise self._error(node, "needs a constant weight and group=1")
        bias = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        _, out_ch, kh, kw = weight.shape
        strides = list(a.get("strides", [1, 1]))
        pads = list(a.get("pads", [0, 0, 0, 0]))
        output_padding = list(a.get("output_padding", [0, 0]))
        if list(a.get("dilations", [1, 1])) != [1, 1] or any(output_padding):
            raise self._error(node, "dilations or output_padding")
        source = self.act(node.input[0], node)
        same = all(pads[i] + pads[i + 2] == k - s and pads[i] == pads[i + 2] for i, (k, s) in enumerate(zip((kh, kw), strides)))
        layer = self.graph.add(
            "Conv2DTranspose", self._hint(node), [source],
            {"filters": out_ch, "kernel_size": [kh, kw], "strides": strides, "padding": "same" if same else "valid",
             "activation": "linear", "use_bias": bias is not None},
            [self._converted(node.input[1], "hwoi", lambda w: w.transpose(2, 3, 1, 0)),
             *([] if bias is None else [bias])],
        )
        if not same and any(pads):
            layer = self.graph.add("Cropping2D", self._hint(node) + "_crop", [layer],
                                   {"cropping": [[pads[0], pads[2]], [pads[1], pads[3]]]})
        return layer

    def _activation(self, node: Any, class_name: str, config: dict[str, Any]) -> str:
        return self.graph.add(class_name, self._hint(node), [self.act(node.input[0], node)], config)

    @_translates("Relu")
    def _op_Relu(self, node: Any) -> str:
        return self._activation(node, "ReLU", {})

    @_translates("LeakyRelu")
    def _op_LeakyRelu(self, node: Any) -> str:
        return self._activation(node, "LeakyReLU", {"alpha": float(self.attrs(node).get("alpha", 0.01))})

    @_translates("Sigmoid")
    def _op_Sigmoid(self, node: Any) -> str:
        return self._activation(node, "Activation", {"activation": "sigmoid"})

    @_translates("Tanh")
    def _op_Tanh(self, node: Any) -> str:
        return self._activation(node, "Activation", {"activation": "tanh"})

    @_translates("Clip")
    def _op_Clip(self, node: Any) -> str:
        a = self.attrs(node)
        low = a.get("min") if "min" in a else (float(self.const(node.input[1])) if len(node.input) > 1 and node.input[1] else None)
        high = a.get("max") if "max" in a else (float(self.const(node.input[2])) if len(node.input) > 2 and node.input[2] else None)
        if low not in (0, 0.0):
            raise self._error(node, f"Clip with min={low} (only min=0 maps to a ReLU)")
        return self._activation(node, "ReLU", {} if high is None else {"max_value": float(high)})

    @_translates("PRelu")
    def _op_PRelu(self, node: Any) -> str:
        slope = self.const(node.input[1])
        if slope is None:
            raise self._error(node, "needs constant slopes")
        channels = int(self.probed(node.input[0]).shape[1])
        alpha = np.broadcast_to(np.asarray(self._channel_constant(node, slope), np.float32), (channels,))
        return self.graph.add("PReLU", self._hint(node), [self.act(node.input[0], node)], {"shared_axes": [1, 2]},
                              [alpha.reshape(1, 1, channels)])

    def _binary(self, node: Any) -> tuple[str | None, str | None, np.ndarray | None, bool]:
        """(left act, right act, constant, constant-is-left)."""
        left, right = node.input[0], node.input[1]
        lc, rc = self.const(left), self.const(right)
        if lc is None and rc is None:
            return self.act(left, node), self.act(right, node), None, False
        if rc is not None:
            return self.act(left, node), None, rc, False
        return None, self.act(right, node), lc, True

    @_translates("Add")
    def _op_Add(self, node: Any) -> str:
        x, y, c, _ = self._binary(node)
        if c is None:
            return self.graph.add("Add", self._hint(node), [x, y])
        return self._per_channel(self._hint(node), x or y, 1.0, self._channel_constant(node, c))

    @_translates("Mul")
    def _op_Mul(self, node: Any) -> str:
        x, y, c, _ = self._binary(node)
        if c is None:
            return self.graph.add("Multiply", self._hint(node), [x, y])
        return self._per_channel(self._hint(node), x or y, self._channel_constant(node, c), 0.0)

    @_translates("Sub")
    def _op_Sub(self, node: Any) -> str:
        x, y, c, const_left = self._binary(node)
        if c is None:
            negated = self.graph.add("MultiplyBeta", self._hint(node) + "_neg", [y], {"beta": -1.0})
            return self.graph.add("Add", self._hint(node), [x, negated])
        value = self._channel_constant(node, c)
        if const_left:  # c - y
            return self._per_channel(self._hint(node), y, -1.0, value)
        return self._per_channel(self._hint(node), x, 1.0, -np.asarray(value) if np.ndim(value) else -value)

    @_translates("Div")
    def _op_Div(self, node: Any) -> str:
        x, y, c, const_left = self._binary(node)
        if c is None or const_left:
            raise self._error(node, "division by an image tensor")
        value = self._channel_constant(node, c)
        return self._per_channel(self._hint(node), x, 1.0 / np.asarray(value, np.float32) if np.ndim(value) else 1.0 / value, 0.0)

    @_translates("Concat")
    def _op_Concat(self, node: Any) -> str:
        axis = int(self.attrs(node)["axis"]) % 4
        if any(self.const(n) is not None for n in node.input):
            raise self._error(node, "concatenates a constant with an image tensor")
        if len(node.input) == 1:  # torch.cat of a one-element list
            return self.act(node.input[0], node)
        return self.graph.add("Concatenate", self._hint(node), [self.act(n, node) for n in node.input],
                              {"axis": NHWC_AXIS[axis]})

    @_translates("DepthToSpace")
    def _op_DepthToSpace(self, node: Any) -> str:
        a = self.attrs(node)
        mode = a.get("mode", "DCR")
        channels = int(self.probed(node.input[0]).shape[1])
        return self._depth_to_space(self._hint(node), self.act(node.input[0], node), int(a["blocksize"]), channels, mode)

    @_translates("SpaceToDepth")
    def _op_SpaceToDepth(self, node: Any) -> str:
        s = int(self.attrs(node)["blocksize"])
        return self.graph.add("PixelUnshuffle", self._hint(node), [self.act(node.input[0], node)], {"scale": s})

    @_translates("Resize")
    def _op_Resize(self, node: Any) -> str:
        a = self.attrs(node)
        mode = a.get("mode", "nearest")
        transform = a.get("coordinate_transformation_mode", "half_pixel")
        if mode == "nearest":
            if transform == "align_corners":
                raise self._error(node, "nearest resize with align_corners")
            interpolation = "nearest"
        elif mode in ("linear", "bilinear") and transform in ("half_pixel", "pytorch_half_pixel"):
            interpolation = "bilinear"
        else:
            raise self._error(node, f"{mode} resize with coordinate_transformation_mode={transform}")
        size = self._scale_factor(node, node.input[0])
        return self.graph.add("UpSampling2D", self._hint(node), [self.act(node.input[0], node)],
                              {"size": list(size), "interpolation": interpolation, "data_format": "channels_last"})

    @_translates("Upsample")
    def _op_Upsample(self, node: Any) -> str:
        mode = self.attrs(node).get("mode", "nearest")
        if mode != "nearest":
            raise self._error(node, f"Upsample mode {mode} (old Upsample's linear uses asymmetric coordinates)")
        size = self._scale_factor(node, node.input[0])
        return self.graph.add("UpSampling2D", self._hint(node), [self.act(node.input[0], node)],
                              {"size": list(size), "interpolation": "nearest", "data_format": "channels_last"})

    @_translates("Pad")
    def _op_Pad(self, node: Any) -> str:
        a = self.attrs(node)
        mode = a.get("mode", "constant")
        pads = a.get("pads")
        if pads is None:
            pads = self.const(node.input[1])
        value = a.get("value", 0.0)
        if len(node.input) > 2 and node.input[2]:
            value = float(self.const(node.input[2]))
        if pads is None or mode != "constant" or value != 0.0:
            raise self._error(node, f"{mode} padding with value {value} (only zero padding is supported)")
        pads = [int(p) for p in pads]
        if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
            raise self._error(node, "padding outside height and width")
        return self.graph.add("ZeroPadding2D", self._hint(node), [self.act(node.input[0], node)],
                              {"padding": [[pads[2], pads[6]], [pads[3], pads[7]]], "data_format": "channels_last"})


def _torch_pixel_unshuffle(x: np.ndarray, s: int) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // s, s, w // s, s).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * s * s, h // s, w // s)


def _text(value: Any, node: Any) -> Any:
    """An attribute's value with its strings (bytes in ONNX) decoded, or
    BadInput for one that is not UTF-8: a damaged file's attribute."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(f"{node.op_type} node {node.name!r} has an attribute that is not UTF-8 text "
                           f"({value[:40]!r}): the file is damaged", hint="re-export the model") from None
    if isinstance(value, list) and any(isinstance(item, bytes) for item in value):
        return [_text(item, node) for item in value]
    return value


def _depth_to_space(x: np.ndarray, s: int, mode: str) -> np.ndarray:
    n, c, h, w = x.shape
    if mode == "DCR":
        y = x.reshape(n, s, s, c // (s * s), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (s * s), s, s, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // (s * s), h * s, w * s)


SUPPORTED_OPS = onnx_ops.handled("*")
onnx_ops.check(OP_HANDLERS.names(), keras=onnx_ops.LAYER)  # what this rebuild takes is what the op registry says
