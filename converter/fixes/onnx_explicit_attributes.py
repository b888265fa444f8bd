"""Spell out the convolution attributes ONNX lets a writer leave at defaults.

onnxruntime-web's WebGPU kernels (the JSEP ones that `onnxruntime-web`'s
default build runs) size a convolution's strides, dilations and pads from
attributes that must be present: a Conv without them fails with "dilations
should be 2D". Every runtime reads the explicit form the same way, so the
graph computes exactly what it did; quantizers copy the attributes along.
"""

from __future__ import annotations

from typing import Any

SUMMARY = "ONNX Conv and ConvTranspose attributes written out (onnxruntime-web's WebGPU kernels read them)"


def run(proto: Any) -> int:
    from onnx import helper

    shapes = {init.name: list(init.dims) for init in proto.graph.initializer}
    changes = 0
    for node in proto.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose") or node.input[1] not in shapes:
            continue
        present = {attr.name for attr in node.attribute}
        kernel = shapes[node.input[1]][2:]
        defaults = {"kernel_shape": kernel, "strides": [1] * len(kernel), "dilations": [1] * len(kernel), "group": 1}
        if "auto_pad" not in present:  # pads and auto_pad exclude each other
            defaults["pads"] = [0] * (2 * len(kernel))
        added = [helper.make_attribute(name, value) for name, value in defaults.items() if name not in present]
        node.attribute.extend(added)
        changes += bool(added)
    return changes
