"""Small ONNX graph utilities shared by the ONNX passes and quantizers."""

from __future__ import annotations

from typing import Any


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
