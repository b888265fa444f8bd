"""Small ONNX graph utilities shared by the ONNX passes and quantizers."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from converter.core.errors import BadInput


def session(model: Any, *, threads: int | None = None, log_level: int = 3, optimization: str = "all",
            optimized_path: Any = None) -> Any:
    """An onnxruntime session on the CPU: the one place srconvert makes them.

    `model`: a ModelProto, its serialised bytes, or a file path (external
    data is read from beside it). `threads`: intra-op threads (None:
    onnxruntime's default, a pool over every core). `log_level`: 3 errors,
    4 fatal only. `optimization`: "all" as users run it, "basic" for
    standard-op rewrites only (constant folding), "none" to run the graph
    as written. `optimized_path`: where onnxruntime writes the graph it
    optimised. onnxruntime's own exceptions propagate: callers say what
    they meant."""
    import onnxruntime

    levels = onnxruntime.GraphOptimizationLevel
    options = onnxruntime.SessionOptions()
    options.log_severity_level = log_level
    options.graph_optimization_level = {"none": levels.ORT_DISABLE_ALL, "basic": levels.ORT_ENABLE_BASIC,
                                        "all": levels.ORT_ENABLE_ALL}[optimization]
    if threads is not None:
        options.intra_op_num_threads = threads
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    elif not isinstance(model, bytes):
        model = str(model)
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def sort_nodes(graph: Any) -> None:
    """Topologically sort `graph.node` in place (stable for already-sorted runs).

    The ONNX spec requires it and strict consumers (onnx.checker, some
    runtimes) reject graphs whose rewriters appended producers after their
    consumers."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        remaining = []
        for node in pending:
            if all(name in available for name in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                remaining.append(node)
        if len(remaining) == len(pending):
            names = ", ".join(n.name or n.op_type for n in remaining[:5])
            raise ValueError(f"ONNX graph has a cycle or a missing input at: {names}")
        pending = remaining
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


# Two probe sizes (height, width): multiples of 8 so any pixel-unshuffle up to
# x8 divides them, unequal so height and width cannot be confused.
PROBE_SIZES = ((24, 32), (40, 48))


def remove_dead_nodes(graph: Any) -> None:
    """`graph` without the nodes no graph output depends on, nor the
    initializers nothing reads any more (after a pass rewired some inputs)."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            keep.append(node)
            needed.update(node.input)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    used = {name for node in graph.node for name in node.input}
    unused = [i for i in graph.initializer if i.name not in used]
    for init in unused:
        graph.initializer.remove(init)


def probe(model: Any, names: list[str], make_input: Callable[[int, int], np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Run `model` in onnxruntime once per PROBE_SIZES entry, with the tensors
    `names` exposed as outputs; returns, per size, the input and those values.

    Graph optimisations are off, so every tensor the file names is still there
    to read. onnxruntime's own errors propagate; callers say what they meant."""
    import onnx

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    known = {o.name for o in exposed.graph.output}
    for name in names:
        if name not in known:
            exposed.graph.output.append(onnx.ValueInfoProto(name=name))
            known.add(name)
    probe = session(exposed, optimization="none")
    model_input = probe.get_inputs()[0]
    runs = []
    for height, width in PROBE_SIZES:
        x = make_input(height, width)
        values = probe.run(names, {model_input.name: x})
        runs.append({model_input.name: x, **dict(zip(names, values))})
    return runs


def tensor_bytes(model: Any) -> int:
    """The bytes an ONNX graph's tensors (initializers and constants) declare."""
    import math

    from onnx import TensorProto, external_data_helper, helper

    return sum(math.prod(t.dims) * helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
               for t in external_data_helper._get_all_tensors(model)
               if t.data_type not in (TensorProto.STRING, TensorProto.UNDEFINED))


def graph_input(model: Any) -> Any:
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise BadInput(
            f"the model has {len(inputs)} inputs and {len(model.graph.output)} outputs; "
            "srconvert converts single-image models (one NCHW image in, one out)",
            hint="export just the super-resolution network",
        )
    return inputs[0]


def image_path(model: Any, through_shape: bool = True) -> set[str]:
    """The tensors computed from the graph's input (from its shape too, with
    `through_shape`: at a free size the shape is a value like any other)."""
    reached = {graph_input(model).name}
    for node in model.graph.node:
        if node.op_type in ("Shape", "Size") and not through_shape:
            continue
        if any(name in reached for name in node.input):
            reached.update(node.output)
    return reached
