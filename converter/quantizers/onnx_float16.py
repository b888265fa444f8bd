"""float16 ONNX: weights and activations in half precision, float32 at the
edges so callers feed and read float32.

Resize stays float32: its scales must be float32, and onnxruntime's converter
otherwise casts the empty `scales` slot tf2onnx leaves when it gives `sizes`,
which makes the model invalid ("Either sizes or scales must be provided").
"""

from __future__ import annotations

from typing import Any

SCHEME = {
    "weights": "float16",
    "activations": "float16 (Resize in float32)",
    "io": "float32, cast at the edges",
}


def quantize(proto: Any, calibration: Any = None) -> Any:
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    from converter.onnx_graph import sort_nodes

    half = convert_float_to_float16(proto, keep_io_types=True, op_block_list=[*DEFAULT_OP_BLOCK_LIST, *FLOAT32_OPS])
    sort_nodes(half.graph)  # the converter appends its input Casts after their consumers
    return half


FLOAT32_OPS = ("Resize",)
