"""Constant Resize scales instead of computed sizes. tf2onnx writes
UpSampling2D as Resize(sizes = Shape(x)[1:3] * factor), a chain of Shape,
Slice, Cast, Mul and Concat nodes run on every inference. The factor is
measured by running the graph at two input sizes, the Resize gets constant
scales, and the shape subgraph, now unused, is removed."""

from __future__ import annotations

from typing import Any

import numpy as np

from converter.graphs.onnx_graph import remove_dead_nodes

NAME = "onnx_resize_scales"
"""What the manifest calls it (explicit: renaming this file renames nothing)."""
SUMMARY = "ONNX Resize shape subgraphs folded into constant scales"


def run(proto: Any) -> int:
    import onnx
    from onnx import numpy_helper

    graph = proto.graph
    initializers = {i.name for i in graph.initializer}
    targets = [n for n in graph.node if n.op_type == "Resize" and len(n.input) > 3 and n.input[3]
               and n.input[3] not in initializers]
    if not targets or all(d.HasField("dim_value") for d in graph.input[0].type.tensor_type.shape.dim):
        return 0  # at a fixed input size, onnxruntime folds the shape chain once at load
    factors = _measure(proto, [(n.input[0], n.output[0]) for n in targets])
    changed = 0
    for node, factor in zip(targets, factors):
        if factor is None:
            continue
        name = f"{node.name or node.output[0]}_scales"
        graph.initializer.append(numpy_helper.from_array(np.asarray(factor, np.float32), name))
        inputs = list(node.input)
        inputs[1] = inputs[1] if len(inputs) > 1 else ""
        node.input[:] = [inputs[0], inputs[1], name]
        changed += 1
    if changed:
        remove_dead_nodes(graph)
        onnx.checker.check_model(proto)
    return changed


def _measure(proto: Any, pairs: list[tuple[str, str]]) -> list[list[float] | None]:
    """Per (input, output) pair: the constant per-axis factor, or None."""
    from converter.graphs.onnx_graph import probe

    shape = proto.graph.input[0].type.tensor_type.shape.dim
    channels_last = shape[-1].HasField("dim_value")

    def zeros(height: int, width: int) -> np.ndarray:
        dims = [1, height, width, shape[-1].dim_value] if channels_last else [1, shape[1].dim_value, height, width]
        return np.zeros(dims, np.float32)

    runs = probe(proto, [name for pair in pairs for name in pair], zeros)
    factors = []
    for source, target in pairs:
        measured = {tuple(run[target].shape[i] / run[source].shape[i] for i in range(run[source].ndim)) for run in runs}
        factor = measured.pop() if len(measured) == 1 else None
        factors.append(list(factor) if factor and all(f == int(f) for f in factor) else None)
    return factors
