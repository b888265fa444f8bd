"""The canonical ONNX form of an ONNX source, built once per run.

It is the source graph itself: the ONNX target reads it as it is (its passes
and quantizers work on any graph), so anything onnxruntime runs becomes a
verified ONNX bundle without a Keras rebuild. The TF.js graph target reads it
through `emitters.onnx_to_tf`; only the TF.js layers target needs the Keras
form, translated from it by `sources.onnx_import`.

Every artifact keeps the sizes the source takes, except where a target needs
one patch size: a TF.js graph of a graph whose size arithmetic the
translation cannot follow (graphs.onnx_ops.free_size_blockers), or any TF.js
graph when `--input-size HxW` is given. That target reads `at_patch()`: the
graph with its input dims fixed and onnxruntime's basic optimisations
(constant folding and standard-op rewrites, nothing runtime-specific)
folding everything computed from the size: window partitions,
shifted-window masks, relative-position indices. A source exported at a
fixed size is fixed already.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np

from converter.core.errors import BadInput, one_line
from converter.core.input_size import InputSize, Sizes
from converter.forms.keras_model import ModelFacts, integer_upscale
from converter.graphs import onnx_graph
from converter.passes import ONNX, OPTIMIZATION, Applied

# Sizes tried, in order, to find what the input's height and width must be a
# multiple of (pixel-unshuffle, strided stems): 17 needs none, 18 needs 2, ...
MULTIPLE_PROBES = ((17, 1), (18, 2), (20, 4), (24, 8), (32, 16))


class OnnxForm:
    def __init__(self, info: Any, patch_size: InputSize | None = None, max_compute: float | None = None,
                 model: Any = None, facts: ModelFacts | None = None) -> None:
        """`patch_size`: the one size the targets that need one (a TF.js graph
        of a graph that computes from its size) are built at (`at_patch`);
        every other target keeps the sizes the source takes. `model` and
        `facts`: the graph and what is known of it, when not the source's
        own (the graph fixed to the patch)."""
        self.info = info
        self.model = info.payload if model is None else model
        self.applied: list[Applied] = []
        self.fixed_topology = None
        self.max_compute = max_compute
        static = static_size(self.model)
        if patch_size is not None and static is not None and static != (patch_size.height, patch_size.width):
            raise BadInput(f"the model was exported for {static[0]}x{static[1]} inputs, not --input-size {patch_size}",
                           path=info.path, hint=f"use --input-size {static[0]}x{static[1]}, or re-export")
        self.patch_size = patch_size
        self.input_size = InputSize(*static) if static else None
        """The one size the graph takes, where it declares one."""
        self._fixed = None
        if facts is None and patch_size is not None and computes_from_size(self.model):
            # The TF.js target needs the graph fixed to the patch anyway, and
            # at a fixed size the work is counted from ONNX's own inference
            # in milliseconds, where the free graph needs onnxruntime's
            # symbolic inference (over a second, most of it importing sympy).
            # Folding the graph runs only what its constants compute, as any
            # onnxruntime session does; the work per pixel is still counted
            # and checked before anything runs it on an input.
            from converter.core import deadline
            from converter.graphs import compute

            compute.check_control_flow(self.model, info.path)
            with deadline.current().call(f"fixing the graph at {patch_size}"):
                self._fixed = fix_size(self.model, patch_size, info.path)
        self._session = None
        """The probes' onnxruntime session, which every reference reuses (on a
        large free-size graph a session takes half a second to load)."""
        if facts is None:
            self.facts, self._session = measure(
                self.model, info.input_channels, self.input_size, info.path, max_compute,
                counted=(self._fixed, patch_size) if self._fixed is not None else None)
        else:
            self.facts = facts
        self._patched: OnnxForm | None = None

    @property
    def sizes(self) -> Sizes:
        """The input sizes this graph takes, as measured (`measure`)."""
        return Sizes.of_shape(self.facts.input_shape, self.facts.input_multiple)

    def at_patch(self) -> "OnnxForm":
        """The graph fixed to the patch size, everything computed from the
        size folded (`fix_size`), built once; the form itself where the graph
        is fixed already or no patch size is set."""
        if self.patch_size is None or self.input_size is not None:
            return self
        if self._patched is None:
            fixed = self._fixed or fix_size(self.model, self.patch_size, self.info.path)
            # The source's facts at the patch: the same scale and work per pixel, measured already.
            facts = dataclasses.replace(
                self.facts, params=_params(fixed), input_multiple=1,
                input_shape=[None, self.patch_size.height, self.patch_size.width, self.facts.input_channels])
            patched = OnnxForm(self.info, None, self.max_compute, model=fixed, facts=facts)
            patched.applied.append(Applied(
                "fixed_input_size", f"input fixed to {self.patch_size}; size-dependent subgraphs folded to constants",
                len(self.model.graph.node) - len(fixed.graph.node) or 1, OPTIMIZATION))
            self._patched = patched
        return self._patched

    kind = ONNX
    """The form (passes.ONNX); targets ask this, not the class."""

    @property
    def path(self) -> Path:
        return self.info.path

    @functools.cached_property
    def weight_bytes(self) -> int:
        """The bytes its tensors declare, initializers and constants alike
        (each artifact is weighed against them)."""
        from converter.graphs.onnx_graph import tensor_bytes

        return tensor_bytes(self.model)

    @property
    def input_channels(self) -> int:
        return self.facts.input_channels

    @property
    def input_multiple(self) -> int:
        return self.facts.input_multiple

    @property
    def macs_per_pixel(self) -> float:
        """The work per input pixel, counted in the graph (0 where it could not be)."""
        return self.facts.compute.macs_per_pixel if self.facts.compute is not None else 0.0

    def graph_in(self, layout: str) -> Any:
        """A copy of the graph for the ONNX target, in `layout`: NCHW as the
        source has it, or NHWC by a Transpose at each end."""
        import onnx
        from onnx import helper

        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        if layout == "nchw":
            return model
        graph = model.graph
        source_input = next(i for i in graph.input if i.name not in {t.name for t in graph.initializer})
        output = graph.output[0]
        inner_in, inner_out = f"{source_input.name}_nchw", f"{output.name}_nchw"
        for node in graph.node:
            node.input[:] = [inner_in if n == source_input.name else n for n in node.input]
            node.output[:] = [inner_out if n == output.name else n for n in node.output]
        graph.node.insert(0, helper.make_node("Transpose", [source_input.name], [inner_in], perm=[0, 3, 1, 2]))
        graph.node.append(helper.make_node("Transpose", [inner_out], [output.name], perm=[0, 2, 3, 1]))
        for value in (source_input, output):
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 4:
                order = [dims[i].SerializeToString() for i in (0, 2, 3, 1)]
                for dim, raw in zip(dims, order):
                    dim.ParseFromString(raw)
        return model

    def loaded(self) -> ModelFacts:
        return self.facts

    reference_alongside = True
    """Its reference (onnxruntime on the file, or the checkpoint's network)
    shares nothing with the targets: it runs while they are built."""

    def reference(self):
        """The source in its own runtime: onnxruntime on the file, or a
        PyTorch checkpoint's network (the fixed-size graph is an artifact's
        business: parity proves its folding)."""
        from converter.backends.base import Deferred
        from converter.sources.onnx_import import source_runner

        session = self._session  # loaded once, for the probes, the range measurement and parity's reference
        return Deferred(lambda: source_runner(self.info, session))


def static_size(model: Any) -> tuple[int, int] | None:
    """(height, width) when the graph's input declares both, else None."""
    dims = onnx_graph.graph_input(model).type.tensor_type.shape.dim
    if len(dims) == 4 and dims[2].HasField("dim_value") and dims[3].HasField("dim_value"):
        return int(dims[2].dim_value), int(dims[3].dim_value)
    return None


def computes_from_size(model: Any) -> bool:
    """Whether the graph reads its input's shape (window partitions, masks,
    crops): a TF.js graph of it is built at a fixed size."""
    return static_size(model) is None and any(n.op_type in ("Shape", "Size") for n in model.graph.node)


def suggested_size(model: Any, multiple: int = 1) -> str:
    """A patch size to suggest: a multiple of every window the graph pads
    its input to (the constant divisors of its Mod nodes) and of `multiple`."""
    import math

    from onnx import numpy_helper

    # Only the divisors are read: converting every weight would copy the model.
    wanted = {node.input[1] for node in model.graph.node if node.op_type == "Mod" and len(node.input) > 1}
    constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if i.name in wanted}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] in wanted and node.attribute[0].name == "value":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    step = multiple
    for node in model.graph.node:
        divisor = constants.get(node.input[1]) if node.op_type == "Mod" and len(node.input) > 1 else None
        if divisor is not None and divisor.size == 1 and 1 < int(divisor.reshape(-1)[0]) <= 64:
            step = math.lcm(step, int(divisor.reshape(-1)[0]))
    side = -(-64 // step) * step
    return f"{side}x{side}"


def fix_size(model: Any, size: InputSize, path: Path) -> Any:
    """A copy of `model` with its input fixed to `size` and everything that
    depends on the size folded, by onnxruntime's basic level: constant
    folding and standard-op rewrites only, so the graph stays portable."""
    import tempfile

    import onnx

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    dims = onnx_graph.graph_input(fixed).type.tensor_type.shape.dim
    for dim, value in zip(dims, (1, None, size.height, size.width)):
        if value is not None:
            dim.Clear()
            dim.dim_value = value
    for output in fixed.graph.output:  # inferred again at the fixed size
        output.type.tensor_type.ClearField("shape")
    del fixed.graph.value_info[:]
    with tempfile.TemporaryDirectory(prefix="srconvert-fixed-") as tmp:
        target = Path(tmp, "fixed.onnx")
        try:
            onnx_graph.session(fixed, optimization="basic", optimized_path=target)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BadInput(f"onnxruntime cannot run the model at {size} ({one_line(exc, 240)})",
                           path=path, hint="choose a size the network accepts (a multiple of its window)") from None
        folded = onnx.load_model(str(target))
    _drop_unused_domains(folded)
    return folded


def _drop_unused_domains(model: Any) -> None:
    """onnxruntime declares every domain it knows; keep the ones used."""
    used = {node.domain for node in model.graph.node} | {""}
    kept = [o for o in model.opset_import if o.domain in used or o.domain == "ai.onnx"]
    del model.opset_import[:]
    model.opset_import.extend(kept)


def measure(model: Any, channels: int, size: InputSize | None, path: Path, max_compute: float | None = None,
            counted: tuple[Any, InputSize] | None = None) -> tuple[ModelFacts, Any]:
    """The model's facts, from its weights, its graph's work (counted and
    checked against the ceiling before anything runs) and onnxruntime runs
    (one session) at small sizes, each under a deadline; and that session.
    `counted`: the graph fixed to a size, and the size, to count the work on
    instead."""

    from converter.core import deadline
    from converter.graphs import compute as counting

    if counted is not None:
        fixed, at = counted
        work = counting.of_onnx(fixed, path, (at.height, at.width))
        # Exact for the fixed graph; the free one also builds its masks and
        # indices from the size on every run (up to 12% more on the fixtures).
        work = dataclasses.replace(work, exact=False, unknown=(
            f"counted on the graph fixed to {at}, without the work the free graph does on its size",
            *work.unknown))
    else:
        work = counting.of_onnx(model, path, (size.height, size.width) if size else None)
    counting.check(work, path, max_compute)
    clock = deadline.current()
    params = _params(model)
    try:
        with clock.call("loading the model in onnxruntime"):
            # Fatal only: a probe at a size the graph does not take fails by design,
            # and onnxruntime would print each failure; its exception says why. One
            # thread: probes are tiny, and a pool would spin beside the other work.
            session = onnx_graph.session(model, threads=1, log_level=4)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise BadInput(f"onnxruntime cannot load the model: {one_line(exc, 200)}", path=path) from None
    if size is not None:
        with clock.call(f"probing the model at {size}", clock.inference(size.height * size.width, "cpu", work)):
            scale = _scale(session, channels, size.height, size.width, path)
        return ModelFacts(params, channels, scale, [None, size.height, size.width, channels], 1, work), session
    for side, multiple in MULTIPLE_PROBES:
        try:
            with clock.call(f"probing the model at {side}x{side}", clock.inference(side * side, "cpu", work)):
                scale = _scale(session, channels, side, side, path)
        except BadInput:
            continue
        return ModelFacts(params, channels, scale, [None, None, None, channels], multiple, work), session
    raise BadInput("onnxruntime cannot run the model at any small input size (17 to 32 pixels)", path=path,
                   hint="if it needs one size, pass it with --input-size HxW")


def _params(model: Any) -> int:
    """The graph's float weights (FLOAT, FLOAT16, DOUBLE, BFLOAT16 initializers)."""
    return sum(int(np.prod(i.dims)) for i in model.graph.initializer if i.data_type in (1, 10, 11, 16))


def _scale(session: Any, channels: int, height: int, width: int, path: Path) -> int:
    try:
        x = np.random.default_rng(0).random((1, channels, height, width), dtype=np.float32)
        out = session.run(None, {session.get_inputs()[0].name: x})[0]
    except Exception as exc:  # onnxruntime raises its own exception types
        raise BadInput(f"onnxruntime cannot run the model at {height}x{width}: {one_line(exc, 200)}",
                       path=path) from None
    return integer_upscale((height, width), out.shape[2:] if out.ndim == 4 else None, path)
