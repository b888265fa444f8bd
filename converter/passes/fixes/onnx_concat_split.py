"""Browser-safe Concat: a Concat with more than 7 inputs becomes a tree of
Concats of at most 7. onnxruntime-web's default WebGPU kernels bind one
storage buffer per input and one for the output on a device with WebGPU's
default limit of 8, and return garbage past it (measured: the RDN fixture's
8-input Concat was off by 2.35 on a range of 6); RDN's global feature fusion
concatenates D block outputs (20 in ISR's psnr-large)."""

from __future__ import annotations

from typing import Any

NAME = "onnx_concat_split"
"""What --no-fix, the manifest and inspect call it (explicit: renaming this file renames nothing)."""
SUMMARY = "ONNX Concat nodes with more than 7 inputs split into a tree (onnxruntime-web WebGPU limit)"
MAX_INPUTS = 7


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
