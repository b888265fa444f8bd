"""Browser-safe Concat: a Concat with more than 8 inputs becomes a tree of
Concats of at most 8. onnxruntime-web's WebGPU backend binds one storage
buffer per input and returns garbage past 8; RDN's global feature fusion
concatenates D block outputs (20 in ISR's psnr-large)."""

from __future__ import annotations

from typing import Any

SUMMARY = "ONNX Concat nodes with more than 8 inputs split into a tree (onnxruntime-web WebGPU limit)"
MAX_INPUTS = 8


def run(proto: Any) -> int:
    from onnx import helper

    graph = proto.graph
    changes = 0
    nodes = []
    for node in graph.node:
        if node.op_type != "Concat" or len(node.input) <= MAX_INPUTS:
            nodes.append(node)
            continue
        axis = next(attr.i for attr in node.attribute if attr.name == "axis")
        inputs = list(node.input)
        level = 0
        while len(inputs) > MAX_INPUTS:
            grouped = []
            for start in range(0, len(inputs), MAX_INPUTS):
                chunk = inputs[start : start + MAX_INPUTS]
                if len(chunk) == 1:
                    grouped.append(chunk[0])
                    continue
                name = f"{node.name or node.output[0]}_split{level}_{start // MAX_INPUTS}"
                nodes.append(helper.make_node("Concat", chunk, [name], name=name, axis=axis))
                grouped.append(name)
            inputs = grouped
            level += 1
        node.input[:] = inputs
        nodes.append(node)
        changes += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return changes
