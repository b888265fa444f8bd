"""NCNN models (`NAME.param`, with `NAME.bin` beside it) as a source (issue
44): Upscayl's catalogue and the ncnn apps' models become TF.js, ONNX and
transformers.js bundles.

Recognised by content (the .param's magic line), whatever the file's name.
The network is rebuilt as an ONNX graph (NCHW, 0..1 in and out, as the
ncnn-vulkan upscalers feed it) and from there the run is an ONNX source's,
with one difference: the parity reference is the `ncnn` runtime running the
source files themselves (on the CPU, float32), so the rebuild is checked too.

The files come from strangers, so before any weight is read:
- the .param is at most MAX_PARAM_BYTES, its layers at most MAX_LAYERS, its
  channels, kernels and scales within bounds;
- the .bin is the .param's own name beside it (no other path is read), a
  regular file, and exactly as long as the layers' weights: every storage
  tag is read and checked first, and a file a byte too short or too long
  is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converter.core.errors import BadInput
from converter.graphs.ncnn_format import ARRAY_KEY, FP16_TAG, FP32_TAG, MAGIC
from converter.sources import admission, declared
from converter.sources.detect import NCNN, Probe
from converter.sources.onnx_import import derive_topology, load  # noqa: F401  (the Keras form of the rebuild)

NAME = "ncnn"
"""The reader's name in sources.READERS."""
FORMATS = {NCNN: "NCNN model (.param, with its .bin beside it)"}
MAX_PARAM_BYTES = 16 << 20
MAX_LAYERS = 20_000
MAX_CHANNELS = 8192
MAX_KERNEL = 15
MAX_SCALE = 16
HINT = "the .param and its .bin must be one NCNN model, as ncnn writes it"
ACTIVATIONS = {0: None, 1: "Relu", 2: "LeakyRelu", 3: "Clip", 4: "Sigmoid"}
"""A Convolution's fused activation (param 9) by ncnn's number; Mish and HardSwish are not read."""
BINARY_OPS = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div", 4: "Max", 5: "Min", 6: "Pow", 7: "Sub", 8: "Div"}
REVERSED = {7, 8}
"""BinaryOp 7 and 8 are b - a and b / a."""


def detect(probe: Probe) -> str | None:
    if probe.is_dir or not probe.head.startswith(MAGIC.encode()):
        return None
    return NCNN if len(probe.head) == len(MAGIC) or probe.head[len(MAGIC):len(MAGIC) + 1].isspace() else None


@dataclass
class Blob:
    """One weight blob of the .bin: where it starts, how many values, how stored."""

    layer: str
    count: int
    tagged: bool
    offset: int = 0
    float16: bool = False


@dataclass
class ParsedLayer:
    kind: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, Any]
    blobs: list[Blob] = field(default_factory=list)


@dataclass
class NcnnFile:
    param: Path
    weights: Path
    layers: list[ParsedLayer]
    input_channels: int


def _refuse(path: Path, what: str) -> BadInput:
    return BadInput(what, path=path, hint=HINT)


def _number(text: str, path: Path, where: str) -> int | float:
    try:
        value = float(text) if any(c in text for c in ".eE") or text in ("nan", "inf", "-inf") else int(text)
    except ValueError:
        raise _refuse(path, f"{where}: {text[:40]!r} is not a number") from None
    if isinstance(value, float) and not np.isfinite(value):
        raise _refuse(path, f"{where}: {text[:40]!r} is not a finite number")
    return value


def _params(fields: list[str], path: Path, where: str) -> dict[int, Any]:
    params: dict[int, Any] = {}
    for item in fields:
        key_text, sep, value = item.partition("=")
        if not sep:
            raise _refuse(path, f"{where}: {item[:40]!r} is not key=value")
        key = _number(key_text, path, where)
        if not isinstance(key, int):
            raise _refuse(path, f"{where}: parameter key {key_text[:20]!r} is not an integer")
        if key <= ARRAY_KEY:
            count, *values = value.split(",")
            if _number(count, path, where) != len(values):
                raise _refuse(path, f"{where}: array parameter {key_text} declares {count} values, holds {len(values)}")
            params[ARRAY_KEY - key] = [_number(v, path, where) for v in values]
        else:
            params[key] = _number(value, path, where)
    return params


def _int(params: dict[int, Any], key: int, default: int, path: Path, where: str, low: int = 0,
         high: int = 1 << 30) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or not low <= value <= high:
        raise _refuse(path, f"{where}: parameter {key} is {value!r}, outside {low}..{high}")
    return value


def _conv_blobs(layer: ParsedLayer, path: Path) -> None:
    """A convolution's blobs, its shape checked against its weight count."""
    where, params = f"{layer.kind} {layer.name}", layer.params
    out = _int(params, 0, 0, path, where, 1, MAX_CHANNELS)
    kw = _int(params, 1, 0, path, where, 1, MAX_KERNEL)
    kh = _int(params, 11, kw, path, where, 1, MAX_KERNEL)
    size = _int(params, 6, 0, path, where, 1, MAX_CHANNELS * MAX_CHANNELS * MAX_KERNEL * MAX_KERNEL)
    group = _int(params, 7, 1, path, where, 1, MAX_CHANNELS) if layer.kind == "ConvolutionDepthWise" else 1
    if params.get(8, 0) != 0:
        raise _refuse(path, f"{where} is int8-quantized, which this reader does not read")
    per_out = size // out if size % out == 0 else 0
    if not per_out or per_out % (kh * kw) or out % group:
        raise _refuse(path, f"{where}: {size} weights do not fit {out} outputs of {kh}x{kw}")
    layer.blobs.append(Blob(layer.name, size, tagged=True))
    if _int(params, 5, 0, path, where, 0, 1):
        layer.blobs.append(Blob(layer.name, out, tagged=False))


WEIGHTLESS = {"Input", "Split", "ReLU", "BinaryOp", "Eltwise", "Concat", "PixelShuffle", "Interp", "Sigmoid", "Clip",
              "Noop"}


def parse(param: Path) -> NcnnFile:
    """The .param's layers and the .bin's blob layout, checked against each
    other; no weight is read."""
    size = param.stat().st_size
    if size > MAX_PARAM_BYTES:
        raise _refuse(param, f"the .param is {size} bytes, over the {MAX_PARAM_BYTES} srconvert reads of one")
    with admission.open_regular(param) as handle:
        try:
            text = handle.read().decode("ascii")
        except UnicodeDecodeError:
            raise _refuse(param, "the .param is not ASCII text (a binary .param is not read)") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or lines[0].strip() != MAGIC:
        raise _refuse(param, f"not an NCNN .param (no {MAGIC} magic line)")
    counts = lines[1].split()
    if len(counts) != 2:
        raise _refuse(param, "line 2 must be `<layer count> <blob count>`")
    layer_count, blob_count = (_number(c, param, "line 2") for c in counts)
    if not isinstance(layer_count, int) or not 0 < layer_count <= MAX_LAYERS or layer_count != len(lines) - 2:
        raise _refuse(param, f"line 2 declares {layer_count} layers; the file holds {len(lines) - 2} "
                             f"(at most {MAX_LAYERS} are read)")
    layers, produced = [], set()
    for number, line in enumerate(lines[2:], start=3):
        where = f"line {number}"
        fields = line.split()
        if len(fields) < 4:
            raise _refuse(param, f"{where}: a layer needs a type, a name and its blob counts")
        kind, name = fields[0], fields[1]
        n_in, n_out = (_number(f, param, where) for f in fields[2:4])
        if not (isinstance(n_in, int) and isinstance(n_out, int) and 0 <= n_in <= 64 and 1 <= n_out <= 64
                and len(fields) >= 4 + n_in + n_out):
            raise _refuse(param, f"{where}: {name[:40]} declares blob counts its line does not hold")
        inputs, outputs = fields[4:4 + n_in], fields[4 + n_in:4 + n_in + n_out]
        missing = [b for b in inputs if b not in produced]
        if missing:
            raise _refuse(param, f"{where}: {name[:40]} reads {missing[0][:40]}, which no layer before it writes")
        produced.update(outputs)
        layer = ParsedLayer(kind, name, inputs, outputs, _params(fields[4 + n_in + n_out:], param, where))
        if kind in ("Convolution", "ConvolutionDepthWise"):
            _conv_blobs(layer, param)
        elif kind == "PReLU":
            layer.blobs.append(Blob(name, _int(layer.params, 0, 1, param, where, 1, MAX_CHANNELS), tagged=False))
        elif kind == "MemoryData":  # a constant (C, H, W) blob: a per-channel mean, say
            w, h, c = (_int(layer.params, key, 0, param, where, 0, MAX_CHANNELS) for key in (0, 1, 2))
            if min(w, h, c) < 1 or w * h > MAX_KERNEL * MAX_KERNEL or n_in != 0:
                raise _refuse(param, f"{where}: only a MemoryData of (C, H, W), H x W at most "
                                     f"{MAX_KERNEL}x{MAX_KERNEL}, is read")
            layer.blobs.append(Blob(name, w * h * c, tagged=False))
        elif kind not in WEIGHTLESS:
            raise BadInput(f"NCNN layer {kind} ({name[:40]}, {where}) is not read here", path=param,
                           hint="README lists the NCNN layers srconvert reads")
        layers.append(layer)
    if len(produced) > blob_count:
        raise _refuse(param, f"line 2 declares {blob_count} blobs; the layers write {len(produced)}")
    if [layer.kind for layer in layers].count("Input") != 1 or layers[0].kind != "Input":
        raise _refuse(param, "an NCNN upscaler has one Input layer, first")
    first_conv = next((layer for layer in layers if layer.blobs), None)
    if first_conv is None:
        raise _refuse(param, "the model has no weights")
    weights = param.with_suffix(".bin")
    if not weights.is_file():
        raise BadInput(f"{weights.name} is missing beside {param.name}", path=param,
                       hint="an NCNN model is the .param and the .bin of the same name, in one folder")
    if weights.is_symlink():  # the .bin's name is the .param's; where it leads must stay beside it
        admission.admit_member(param.parent.resolve(), weights, param)
    admission.admit(weights)
    _locate(layers, weights)
    kh = first_conv.params.get(11, first_conv.params.get(1, 1))
    channels = first_conv.blobs[0].count // (first_conv.params[0] * kh * first_conv.params.get(1, 1))
    return NcnnFile(param, weights, layers, channels * first_conv.params.get(7, 1))


def _locate(layers: list[ParsedLayer], weights: Path) -> None:
    """Each blob's offset and storage, reading only the 4-byte tags; the
    file must end where the last blob does."""
    size, offset = weights.stat().st_size, 0
    with admission.open_regular(weights) as handle:
        for blob in (b for layer in layers for b in layer.blobs):
            blob.offset = offset
            if blob.tagged:
                handle.seek(offset)
                raw = handle.read(4)
                if len(raw) < 4:
                    raise _refuse(weights, f"the .bin ends at {size} bytes, before {blob.layer[:40]}'s weights")
                (tag,) = struct.unpack("<I", raw)
                if tag not in (FP16_TAG, FP32_TAG):
                    raise _refuse(weights, f"{blob.layer[:40]}'s weights have storage tag {tag:#010x}: only "
                                           "float16 and float32 are read")
                blob.float16 = tag == FP16_TAG
                blob.offset = offset = offset + 4
                offset += (blob.count * 2 + 3) // 4 * 4 if blob.float16 else blob.count * 4
            else:
                offset += blob.count * 4
            if offset > size:
                raise _refuse(weights, f"the .bin is {size} bytes; {blob.layer[:40]}'s weights end at {offset}")
    if offset != size:
        raise _refuse(weights, f"the .bin is {size} bytes; the .param's layers hold {offset}")


def companions(path: Path) -> list[Path]:
    """The .bin a .param is read with (the source's sha256 covers it)."""
    weights = Path(path).with_suffix(".bin")
    return [weights] if weights.is_file() else []


def _parsed(probe: Probe) -> NcnnFile:
    return probe.cached("ncnn", lambda: parse(probe.given))


def content_bytes(probe: Probe) -> declared.Content:
    parsed = _parsed(probe)
    values = sum(blob.count for layer in parsed.layers for blob in layer.blobs)
    return declared.Content(values * 4, parsed.param.stat().st_size + parsed.weights.stat().st_size)


def describe(probe: Probe, fmt: str, options) -> dict[str, Any]:
    from converter.backends.ncnn.runner import NcnnRunner

    parsed = _parsed(probe)
    model = to_onnx(parsed)
    return {"keras_version": None, "topology": None, "producer": "ncnn", "payload": model,
            "input_channels": parsed.input_channels,
            # The source files in ncnn itself are the reference: the rebuild is checked too.
            "reference": lambda: NcnnRunner(parsed.param, False, (0.0, 1.0))}


def _read(handle, blob: Blob) -> np.ndarray:
    handle.seek(blob.offset)
    if blob.float16:
        return np.frombuffer(handle.read(blob.count * 2), "<f2").astype(np.float32)
    return np.frombuffer(handle.read(blob.count * 4), "<f4").astype(np.float32)


class _Graph:
    """The ONNX graph being built: nodes, initializers, unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def weight(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def constant(self, name: str, value: np.ndarray) -> str:
        """A coefficient, a bound or a scale: a Constant node, as exporters
        write them, so the model's parameter count is its weights'."""
        from onnx import helper, numpy_helper

        tensor = numpy_helper.from_array(np.asarray(value, np.float32), name)
        self.nodes.append(helper.make_node("Constant", [], [name], name=f"{name}_constant", value=tensor))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], name: str, **attrs: Any) -> None:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))


def _activation(graph: _Graph, layer: ParsedLayer, x: str, out: str, name: str, path: Path) -> None:
    kind = layer.params.get(9, 0)
    if kind not in ACTIVATIONS:
        raise _refuse(path, f"{layer.name[:40]} has fused activation {kind}, which this reader does not read")
    values = layer.params.get(10, [])
    op = ACTIVATIONS[kind]
    if op is None:
        graph.node("Identity", [x], [out], f"{name}_identity")
    elif op == "LeakyRelu":
        graph.node(op, [x], [out], f"{name}_act", alpha=float(values[0] if values else 0.0))
    elif op == "Clip":
        if len(values) != 2:
            raise _refuse(path, f"{layer.name[:40]}: a fused clip needs its two bounds")
        graph.node(op, [x, graph.constant(f"{name}_min", np.array(values[0])),
                        graph.constant(f"{name}_max", np.array(values[1]))], [out], f"{name}_act")
    else:
        graph.node(op, [x], [out], f"{name}_act")


def to_onnx(parsed: NcnnFile) -> Any:
    """The network as an ONNX graph (opset 17, NCHW, batch 1, free height
    and width), one node or a few per layer, in the .param's order."""
    from onnx import TensorProto, helper

    path, graph = parsed.param, _Graph()
    renamed: dict[str, str] = {}

    def blob(name: str) -> str:
        return renamed.get(name, name)

    output = None
    with admission.open_regular(parsed.weights) as handle:
        for index, layer in enumerate(parsed.layers):
            p, name, where = layer.params, f"n{index}_{layer.name}", f"{layer.kind} {layer.name[:40]}"
            ins, outs = [blob(b) for b in layer.inputs], layer.outputs
            if layer.kind == "Input":
                input_name = outs[0]
            elif layer.kind == "Split" or layer.kind == "Noop":
                for out in outs:
                    renamed[out] = ins[0]
            elif layer.kind in ("Convolution", "ConvolutionDepthWise"):
                out_ch, kw = p[0], p[1]
                kh = p.get(11, kw)
                group = p.get(7, 1) if layer.kind == "ConvolutionDepthWise" else 1
                weight = _read(handle, layer.blobs[0]).reshape(out_ch, -1, kh, kw)
                inputs = [ins[0], graph.weight(f"{name}_w", weight)]
                if len(layer.blobs) > 1:
                    inputs.append(graph.weight(f"{name}_b", _read(handle, layer.blobs[1])))
                left = p.get(4, 0)
                pads = [p.get(14, left), left, p.get(16, p.get(14, left)), p.get(15, left)]
                if min(pads) < 0:
                    raise _refuse(path, f"{where}: padding by edge value ({min(pads)}) is not read")
                stride, dilation = p.get(3, 1), p.get(2, 1)
                conv_out = f"{name}_conv" if p.get(9, 0) else outs[0]
                graph.node("Conv", inputs, [conv_out], name, kernel_shape=[kh, kw], pads=pads, group=group,
                           strides=[p.get(13, stride), stride], dilations=[p.get(12, dilation), dilation])
                if p.get(9, 0):
                    _activation(graph, layer, conv_out, outs[0], name, path)
            elif layer.kind == "ReLU":
                slope = float(p.get(0, 0.0))
                if slope:
                    graph.node("LeakyRelu", ins, outs[:1], name, alpha=slope)
                else:
                    graph.node("Relu", ins, outs[:1], name)
            elif layer.kind == "PReLU":
                slopes = _read(handle, layer.blobs[0])
                shape = (1,) if slopes.size == 1 else (slopes.size, 1, 1)
                graph.node("PRelu", [ins[0], graph.weight(f"{name}_slope", slopes.reshape(shape))], outs[:1], name)
            elif layer.kind == "Sigmoid":
                graph.node("Sigmoid", ins, outs[:1], name)
            elif layer.kind == "MemoryData":  # the blob is the constant itself, as its readers' operand
                graph.weight(outs[0], _read(handle, layer.blobs[0]).reshape(1, p[2], p[1], p[0]))
            elif layer.kind == "Clip":
                graph.node("Clip", [ins[0], graph.constant(f"{name}_min", np.array(float(p.get(0, -3.4e38)))),
                                    graph.constant(f"{name}_max", np.array(float(p.get(1, 3.4e38))))], outs[:1], name)
            elif layer.kind == "BinaryOp":
                _binary(graph, layer, ins, outs[0], name, path)
            elif layer.kind == "Eltwise":
                _eltwise(graph, layer, ins, outs[0], name, path)
            elif layer.kind == "Concat":
                if p.get(0, 0) != 0 or len(ins) < 2:
                    raise _refuse(path, f"{where}: only a Concat of two or more blobs along the channels is read")
                graph.node("Concat", ins, outs[:1], name, axis=1)
            elif layer.kind == "PixelShuffle":
                factor = p.get(0, 1)
                if not isinstance(factor, int) or not 1 <= factor <= MAX_SCALE:
                    raise _refuse(path, f"{where}: upscale factor {factor!r} outside 1..{MAX_SCALE}")
                graph.node("DepthToSpace", ins, outs[:1], name, blocksize=factor,
                           mode="DCR" if p.get(1, 0) == 1 else "CRD")
            elif layer.kind == "Interp":
                _interp(graph, layer, ins, outs[0], name, path)
            output = outs[0]
    in_value = helper.make_tensor_value_info(input_name, TensorProto.FLOAT,
                                             [1, parsed.input_channels, "height", "width"])
    out_value = helper.make_tensor_value_info(blob(output), TensorProto.FLOAT, [1, None, None, None])
    model = helper.make_model(helper.make_graph(graph.nodes, "ncnn", [in_value], [out_value], graph.initializers),
                              opset_imports=[helper.make_opsetid("", 17)], producer_name="srconvert (from ncnn)")
    model.ir_version = 8
    return model


def _binary(graph: _Graph, layer: ParsedLayer, ins: list[str], out: str, name: str, path: Path) -> None:
    op_type = layer.params.get(0, 0)
    if op_type not in BINARY_OPS:
        raise _refuse(path, f"BinaryOp {layer.name[:40]} has op {op_type!r}, which this reader does not read")
    op = BINARY_OPS[op_type]
    if layer.params.get(1, 0):
        operands = [ins[0], graph.constant(f"{name}_b", np.array(float(layer.params.get(2, 0.0))))]
    elif len(ins) == 2:
        operands = list(ins)
    else:
        raise _refuse(path, f"BinaryOp {layer.name[:40]} has neither two inputs nor a scalar")
    if op_type in REVERSED:
        operands.reverse()
    graph.node(op, operands, [out], name)


def _eltwise(graph: _Graph, layer: ParsedLayer, ins: list[str], out: str, name: str, path: Path) -> None:
    op_type, coeffs = layer.params.get(0, 1), layer.params.get(1, [])
    if op_type not in (0, 1, 2) or len(ins) < 2 or (coeffs and len(coeffs) != len(ins)):
        raise _refuse(path, f"Eltwise {layer.name[:40]}: op {op_type!r} over {len(ins)} blobs is not read")
    if op_type != 1 and coeffs:
        raise _refuse(path, f"Eltwise {layer.name[:40]}: coefficients apply to a sum only")
    terms = []
    for k, x in enumerate(ins):
        coeff = float(coeffs[k]) if coeffs else 1.0
        if coeff != 1.0:
            graph.node("Mul", [x, graph.constant(f"{name}_c{k}", np.array(coeff))], [f"{name}_t{k}"], f"{name}_mul{k}")
            x = f"{name}_t{k}"
        terms.append(x)
    graph.node({0: "Mul", 1: "Sum", 2: "Max"}[op_type], terms, [out], name)


def _interp(graph: _Graph, layer: ParsedLayer, ins: list[str], out: str, name: str, path: Path) -> None:
    p = layer.params
    kind, height, width = p.get(0, 0), float(p.get(1, 1.0)), float(p.get(2, 1.0))
    if kind not in (1, 2) or p.get(3, 0) or p.get(4, 0) or p.get(5, 0) or len(ins) != 1 \
            or not (1.0 <= height <= MAX_SCALE and 1.0 <= width <= MAX_SCALE):
        raise _refuse(path, f"Interp {layer.name[:40]}: only nearest or bilinear by scales 1..{MAX_SCALE} is read")
    scales = graph.constant(f"{name}_scales", np.array([1.0, 1.0, height, width]))
    if kind == 1:
        graph.node("Resize", [ins[0], "", scales], [out], name, mode="nearest",
                   coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        graph.node("Resize", [ins[0], "", scales], [out], name, mode="linear",
                   coordinate_transformation_mode="align_corners" if p.get(6, 0) else "half_pixel")
