"""How much work a model does per pixel, counted in its graph.

Parameters do not say what a model costs: a kernel shared by 400 nodes is
one parameter set and 400 convolutions' work, and a `Loop` repeats its body
as often as its trip count says. So the estimate counts multiply-accumulates
(MACs) node by node, at every use of a weight, and multiplies a loop body by
its constant trip count. It is taken per *input* pixel, since a run's work is
that figure times the pixels it feeds the model; `inspect` also shows it per
output pixel.

The count drives the parity input size (parity.inputs), every runtime call's
deadline (converter.core.deadline) and what `inspect` prints. It is an estimate:
exact for convolutions and matrix products whose shapes inference resolves,
approximate where a shape stays unknown (that node is counted at the input's
resolution) and blind to a loop whose trip count is computed at run time
(the deadline catches that one). `Compute.exact` says which it is.

Two refusals happen before any work:
  - a `Loop` whose constant trip count is over MAX_TRIP_COUNT: no
    super-resolution network iterates a million times, and a body of a few
    microseconds run 10^12 times never ends;
  - a model over MAX_MACS_PER_PIXEL (--max-compute raises it): four times
    the heaviest OpenModelDB architecture (HAT-L, about 25 M MACs per input
    pixel), where one megapixel would cost 100 TMAC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from converter.core.errors import BadInput
from converter.graphs.topology import inbound_refs

MAX_TRIP_COUNT = 100_000
MAX_MACS_PER_PIXEL = 100e6
MAX_SUBGRAPH_DEPTH = 32
"""Control flow nested deeper than this is refused (counting it recurses)."""
WEIGHTED_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum", "MatMulInteger")
PROBE_SIDE = 64
"""The input side the ONNX graph's shapes are inferred at (any size the
model takes gives the same per-pixel figure for a convolutional network)."""
COMPUTE_HINT = "if the model is genuine, pass --max-compute with a larger figure (e.g. --max-compute 500M)"


@dataclass(frozen=True)
class Compute:
    macs_per_pixel: float
    """Multiply-accumulates per input pixel (elementwise ops count one per element)."""
    exact: bool = True
    unknown: tuple[str, ...] = ()
    """Why the count may be low: loops with run-time trip counts, unresolved shapes."""
    counted: dict[str, float] = field(default_factory=dict)
    """MACs per input pixel by op type (Conv, MatMul, ...), largest first."""
    nodes: int = 0
    """Nodes (layer calls) one inference runs: each costs a kernel dispatch."""

    def macs(self, pixels: int) -> float:
        return self.macs_per_pixel * pixels

    def text(self, scale: int | None = None) -> str:
        per_output = f", {si(self.macs_per_pixel / scale ** 2)} per output pixel" if scale else ""
        note = ""
        if not self.exact:
            more = f" and {len(self.unknown) - 1} more" if len(self.unknown) > 1 else ""
            note = f" (an estimate: {self.unknown[0]}{more})"
        return f"{si(self.macs_per_pixel)} MAC per input pixel{per_output}{note}"

    def as_dict(self) -> dict[str, Any]:
        return {"macs_per_input_pixel": round(self.macs_per_pixel), "exact": self.exact,
                **({"uncounted": list(self.unknown)} if self.unknown else {})}


def si(value: float) -> str:
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f}"


def parse_count(text: str) -> float:
    """`500M`, `2G`, `1e9` -> a count; ValueError otherwise."""
    units = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    body = text.strip().upper()
    unit = body[-1] if body and body[-1] in units and body[-1] != "" else ""
    number = float(body[:-1] if unit else body)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{text!r} is not a positive count; e.g. 500M")
    return number * units[unit]


def check(compute: Compute, path: Path, ceiling: float | None = None) -> None:
    """BadInput (exit 2) when the model is over the ceiling: for a graph
    before anything runs it, for a Keras source once it has loaded."""
    ceiling = MAX_MACS_PER_PIXEL if ceiling is None else ceiling
    if compute.macs_per_pixel > ceiling:
        raise BadInput(
            f"the model does {si(compute.macs_per_pixel)} multiply-accumulates per input pixel, over the "
            f"{si(ceiling)} ceiling ({si(compute.macs(1 << 20))} for one megapixel)",
            path=path, hint="nothing was written; " + COMPUTE_HINT)


# --- ONNX ---------------------------------------------------------------------------------------------------

def of_onnx(model: Any, path: Path, size: tuple[int, int] | None = None) -> Compute:
    """The work of an ONNX graph (NCHW input), counted at `size` (its own
    fixed size, else PROBE_SIDE square). BadInput for an absurd constant
    loop, before shape inference runs anything."""

    height, width = size or (PROBE_SIDE, PROBE_SIDE)
    _check_loops(model.graph, _constants(model.graph), path)
    inferred = _inferred(_skeleton(model, height, width))
    from converter.graphs.onnx_graph import image_path

    # Nodes a runtime dispatches: those on the image's own path. Shape
    # arithmetic (window counts, pads to a multiple) is scalar work every
    # runtime does on the CPU or folds, and a fixed-size artifact holds none.
    image = image_path(model, through_shape=False)
    counter = _Counter(height * width, frozenset(i.name for i in model.graph.initializer))
    counter.graph(inferred.graph, 1.0, _constants(model.graph), dispatched=image)
    return counter.result()


def _inferred(skeleton: Any) -> Any:
    """The skeleton with every shape inference can resolve: ONNX's own
    (milliseconds), and where it leaves a weighted node's shapes unknown,
    onnxruntime's symbolic inference, which follows the shape arithmetic of
    windowed attention (a second, most of it importing sympy). Best effort:
    what stays unknown is counted approximately, and said so."""
    import logging

    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is best effort
        inferred = skeleton
    if _resolved(inferred.graph):
        return inferred
    try:
        logging.getLogger("onnxruntime.tools.symbolic_shape_infer").setLevel(logging.CRITICAL)
        return _symbolic().SymbolicShapeInference.infer_shapes(skeleton, auto_merge=True, guess_output_rank=True)
    except Exception:  # noqa: BLE001 - it raises on ops it lacks
        return inferred


def _resolved(graph: Any) -> bool:
    """Whether every node that carries the work has a known output shape."""
    shapes = _shapes(graph)
    return all(_known(shapes.get(node.output[0])) for node in graph.node
               if node.op_type in WEIGHTED_OPS and node.output)


def _symbolic() -> Any:
    """onnxruntime's symbolic_shape_infer module, loaded from its file: the
    `onnxruntime.tools` package imports torch whenever it is installed,
    three seconds this module does not need."""
    import importlib.util
    import sys

    import onnxruntime

    name = "onnxruntime.tools.symbolic_shape_infer"
    if name not in sys.modules:
        path = Path(onnxruntime.__file__).parent / "tools" / "symbolic_shape_infer.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def check_control_flow(model: Any, path: Path) -> None:
    """BadInput for a Loop of an absurd constant trip count, or control
    flow nested absurdly deep: before anything runs the graph."""
    _check_loops(model.graph, _constants(model.graph), path)


def _skeleton(model: Any, height: int, width: int) -> Any:
    """A copy of the graph without its weights' data (inference needs only
    their shapes, and the small constants shape computations read), its
    input fixed to 1 x C x height x width."""
    import onnx
    from onnx import helper

    skeleton = onnx.ModelProto()
    skeleton.ir_version = model.ir_version
    skeleton.opset_import.extend(model.opset_import)
    graph = skeleton.graph
    graph.node.extend(model.graph.node)
    graph.output.extend(model.graph.output)
    initializers = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        copy = graph.input.add()
        copy.CopyFrom(value)
        dims = copy.type.tensor_type.shape.dim
        if len(dims) == 4:
            for dim, fixed in zip(dims, (1, None, height, width)):
                if fixed is not None:
                    dim.Clear()
                    dim.dim_value = fixed
    for init in model.graph.initializer:
        if _elements(init.dims) <= 4096 and init.data_location != onnx.TensorProto.EXTERNAL:
            graph.initializer.append(init)  # shape computations may read it
        else:
            graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    for output in graph.output:
        output.type.tensor_type.ClearField("shape")
    return skeleton


def _elements(dims: Iterable[int]) -> int:
    return math.prod(int(d) for d in dims)


def _constants(graph: Any) -> dict[str, Any]:
    """Small constant tensors by name (initializers and Constant nodes), for trip counts."""
    from onnx import numpy_helper

    found = {}
    for init in graph.initializer:
        if _elements(init.dims) == 1 and init.data_location == 0:
            found[init.name] = numpy_helper.to_array(init)
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name in ("value", "value_int"):
            attribute = node.attribute[0]
            if attribute.name == "value_int":
                found[node.output[0]] = attribute.i
            elif _elements(attribute.t.dims) == 1:
                found[node.output[0]] = numpy_helper.to_array(attribute.t)
    return found


def _trip_count(node: Any, constants: dict[str, Any]) -> int | None:
    """A Loop's constant trip count, or None (absent, or computed at run time)."""
    if not node.input or not node.input[0] or node.input[0] not in constants:
        return None
    value = constants[node.input[0]]
    return int(value.reshape(-1)[0]) if hasattr(value, "reshape") else int(value)


def _check_loops(graph: Any, constants: dict[str, Any], path: Path, depth: int = 0) -> None:
    if depth > MAX_SUBGRAPH_DEPTH:
        raise BadInput(f"the graph's control flow (If, Loop, Scan) nests over {MAX_SUBGRAPH_DEPTH} levels deep",
                       path=path, hint="nothing was run; not a super-resolution network srconvert converts")
    for node in graph.node:
        if node.op_type == "Loop":
            trips = _trip_count(node, constants)
            if trips is not None and trips > MAX_TRIP_COUNT:
                raise BadInput(
                    f"node {node.name or node.output[0]!r} is a Loop of {trips:,} iterations (limit "
                    f"{MAX_TRIP_COUNT:,}): it would run for hours or forever",
                    path=path, hint="nothing was run; no super-resolution network loops like this")
        for attribute in node.attribute:
            for body in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                _check_loops(body, {**constants, **_constants(body)}, path, depth + 1)


class _Counter:
    def __init__(self, pixels: int, weights: frozenset[str] = frozenset()) -> None:
        self.pixels = pixels
        self.weights = weights
        self.by_op: dict[str, float] = {}
        self.unknown: list[str] = []
        self.nodes = 0.0

    def result(self) -> Compute:
        counted = dict(sorted(((op, macs / self.pixels) for op, macs in self.by_op.items()), key=lambda kv: -kv[1]))
        return Compute(sum(counted.values()), not self.unknown, tuple(dict.fromkeys(self.unknown)), counted,
                       int(min(self.nodes, 1e12)))

    def graph(self, graph: Any, repeat: float, constants: dict[str, Any], dispatched: set[str] | None = None) -> None:
        """`dispatched`: the tensors whose nodes count as dispatches (None: every node's)."""
        shapes = _shapes(graph)
        for node in graph.node:
            self.node(node, shapes, repeat, constants,
                      dispatched is None or any(name in dispatched for name in node.output))

    def add(self, op: str, macs: float) -> None:
        self.by_op[op] = self.by_op.get(op, 0.0) + macs

    def node(self, node: Any, shapes: dict[str, list[int | None]], repeat: float, constants: dict[str, Any],
             dispatch: bool = True) -> None:
        inner = {**constants, **{k: v for body in _bodies(node) for k, v in _constants(body).items()}}
        if node.op_type == "Loop":
            trips = _trip_count(node, constants)
            if trips is None:
                self.unknown.append(f"Loop {node.name or node.output[0]!r} has a run-time trip count")
                trips = 1
            for body in _bodies(node):
                self.graph(body, repeat * max(trips, 0), inner)
            return
        if node.op_type == "Scan":
            trips = _known(shapes.get(node.input[-1])) and shapes[node.input[-1]][0]
            if not trips:
                self.unknown.append(f"Scan {node.name or node.output[0]!r} has an unknown length")
            for body in _bodies(node):
                self.graph(body, repeat * (trips or 1), inner)
            return
        if node.op_type == "If":  # one branch runs: count the heavier
            branches = []
            for body in _bodies(node):
                branch = _Counter(self.pixels, self.weights)
                branch.graph(body, repeat, inner)
                branches.append(branch)
            if branches:
                heaviest = max(branches, key=lambda b: sum(b.by_op.values()))
                for op, macs in heaviest.by_op.items():
                    self.add(op, macs)
                self.unknown.extend(heaviest.unknown)
            return
        self.nodes += repeat if dispatch else 0
        macs = self._macs(node, shapes)
        if macs:
            self.add(node.op_type, macs * repeat)

    def _macs(self, node: Any, shapes: dict[str, list[int | None]]) -> float:
        out = shapes.get(node.output[0]) if node.output else None
        ins = [shapes.get(name) for name in node.input]
        if node.op_type in ("Conv", "ConvTranspose") and len(ins) > 1 and _known(ins[1]):
            weight = _elements(ins[1])  # (M, C/group, k...) or ConvTranspose's (C, M/group, k...)
            spatial = out if node.op_type == "Conv" else ins[0]
            if _known(spatial):
                return weight * spatial[0] * _elements(spatial[2:])
            self.unknown.append(f"{node.op_type} {node.name!r}: output shape unresolved, counted at input size")
            return weight * self.pixels
        if node.op_type in ("MatMul", "Gemm", "MatMulInteger") and len(ins) > 1 and _known(ins[0]) and _known(out):
            inner = ins[0][-1] if not (node.op_type == "Gemm" and _attribute(node, "transA")) else ins[0][0]
            return _elements(out) * inner
        if node.op_type in ("MatMul", "Gemm") and len(ins) > 1 and node.input[1] in self.weights:
            # A linear layer on tokens: its weight at every pixel.
            self.unknown.append(f"{node.op_type} {node.name!r}: shapes unresolved, counted once per input pixel")
            return _elements(ins[1]) * self.pixels
        if node.op_type in ("MatMul", "Gemm", "Einsum"):
            self.unknown.append(f"{node.op_type} {node.name!r}: shapes unresolved")
            return 0.0
        if node.op_type in ("Constant", "Shape", "Identity"):
            return 0.0
        return float(_elements(out)) if _known(out) else 0.0


def _bodies(node: Any) -> list[Any]:
    return [a.g for a in node.attribute if a.HasField("g")] + [g for a in node.attribute for g in a.graphs]


def _attribute(node: Any, name: str) -> int:
    return next((a.i for a in node.attribute if a.name == name), 0)


def _known(shape: list[int | None] | None) -> bool:
    return bool(shape) and all(isinstance(d, int) and d > 0 for d in shape)


def _shapes(graph: Any) -> dict[str, list[int | None]]:
    shapes = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    for init in graph.initializer:
        shapes[init.name] = [int(d) for d in init.dims]
    return shapes


# --- Keras ----------------------------------------------------------------------------------------------------

# How a layer changes the area of the image it is given, from its config.
def _area_factor(class_name: str, config: dict[str, Any]) -> float:
    strides = config.get("strides") or (1, 1)
    if class_name in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D"):
        pool = config.get("strides") or config.get("pool_size") or (1, 1)
        return 1.0 / (int(pool[0]) * int(pool[-1]))
    if class_name == "Conv2DTranspose":
        return float(int(strides[0]) * int(strides[-1]))
    if class_name == "UpSampling2D":
        size = config.get("size") or (2, 2)
        return float(int(size[0]) * int(size[-1]))
    if class_name in ("PixelShuffle", "DepthToSpace"):
        return float(int(config.get("scale") or config.get("block_size") or 2) ** 2)
    if class_name in ("PixelUnshuffle", "SpaceToDepth"):
        return 1.0 / int(config.get("scale") or config.get("block_size") or 2) ** 2
    if class_name == "ResizeBilinear":
        size = config.get("size") or (2, 2)
        return float(int(size[0]) * int(size[-1]))
    return 1.0


def of_keras(topology: dict[str, Any], weight_shapes: dict[str, list[tuple[int, ...]]]) -> Compute:
    """The work of a Keras functional topology per input pixel: each call of
    a layer with a kernel costs the kernel's size at every output position
    (Conv2DTranspose: at every input position), at the area the layer's
    inbound tensors have relative to the model's input."""
    counter = _Counter(1)
    _keras_graph(topology.get("config", {}), weight_shapes, [1.0], counter)
    return counter.result()


def _keras_graph(config: dict[str, Any], weight_shapes, input_areas: list[float], counter: _Counter) -> list[float]:
    """Counts one functional graph whose inputs have `input_areas`; returns
    its outputs' areas. A call is counted once the areas of its inputs are
    known: a layer called several times is listed once, before the layers
    its later calls take."""
    areas: dict[tuple[str, int], float] = {}
    for index, ref in enumerate(config.get("input_layers", [])):
        areas[(ref[0], 0)] = input_areas[min(index, len(input_areas) - 1)] if input_areas else 1.0
    pending = [(layer, node_index, _inbound_refs(node)) for layer in config.get("layers", [])
               for node_index, node in enumerate(layer.get("inbound_nodes", []))]
    for layer in config.get("layers", []):
        if layer.get("class_name") == "InputLayer":
            areas.setdefault((layer.get("name"), 0), 1.0)
    while pending:
        deferred = []
        for call in pending:  # in list order, which is the order of the calls but for shared layers
            if all(ref in areas for ref in call[2]):
                _keras_call(*call, areas, weight_shapes, counter)
            else:
                deferred.append(call)
        if len(deferred) == len(pending):  # a reference to nothing listed: count it at the input's area
            _keras_call(*deferred.pop(0), areas, weight_shapes, counter)
        pending = deferred
    return [areas.get((ref[0], ref[1]), 1.0) for ref in config.get("output_layers", [])]


def _keras_call(layer: dict[str, Any], node_index: int, refs: list[tuple[str, int]],
                areas: dict[tuple[str, int], float], weight_shapes, counter: _Counter) -> None:
    class_name, name, layer_config = layer.get("class_name"), layer.get("name"), layer.get("config", {})
    area = areas.get(refs[0], 1.0) if refs else 1.0
    if class_name in ("Functional", "Model", "Sequential") and "layers" in layer_config:
        outs = _keras_graph(layer_config, weight_shapes, [areas.get(r, 1.0) for r in refs], counter)
        areas[(name, node_index)] = outs[0] if outs else area
        return
    counter.nodes += 1
    out_area = area * _area_factor(class_name, layer_config)
    kernel_elements = sum(math.prod(shape) for shape in weight_shapes.get(name, [])[:2] if len(shape) > 1)
    if kernel_elements:
        counter.add(class_name, kernel_elements * (area if class_name == "Conv2DTranspose" else out_area))
    areas[(name, node_index)] = out_area


def _inbound_refs(node: Any) -> list[tuple[str, int]]:
    """(layer, call index) of each tensor a call takes, Keras 2 or Keras 3 style."""
    return [(ref[0], int(ref[1])) for ref in inbound_refs(node) if isinstance(ref, list) and len(ref) >= 2]
