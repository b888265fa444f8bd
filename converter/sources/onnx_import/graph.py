"""Reading an ONNX source safely, and probing it.

External data is read only from inside the model's own folder (checked by
`declared.onnx_model` before this module reads any). The probe runs
the model once in onnxruntime at two input sizes with every intermediate
tensor exposed: shape subgraphs whose values do not change between sizes fold
to constants, and data-movement chains (pixel (un)shuffle written as
Reshape/Transpose) are identified from the values they actually move.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.core.errors import BadInput, one_line
from converter.graphs import onnx_graph

# protobuf cannot hold a message past 2 GiB; larger models keep their
# weights in external data. Refusing first saves reading the file whole.
MAX_PROTO_BYTES = 2 << 30


def parse(path: Path) -> Any:
    """The ModelProto without its external data (a parse is bounded by the
    file's own size)."""
    import onnx

    if path.stat().st_size > MAX_PROTO_BYTES:
        raise BadInput("an ONNX file over 2 GiB, which protobuf cannot hold", path=path,
                       hint="export with external data (model.onnx + model.onnx.data)")
    try:
        return onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise BadInput(f"not a readable ONNX model ({exc})", path=path, hint="re-export the model") from None


def with_external_data(model: Any, path: Path) -> Any:
    """`model` (parsed from `path`) with its external data read in. `sources.describe`
    has already run `declared.onnx_model` on it, which refuses external data outside the
    model's folder, not a regular file, or shorter than its tensors declare."""
    from onnx import external_data_helper

    try:
        external_data_helper.load_external_data_for_model(model, str(path.parent.resolve()))
    except Exception as exc:
        raise BadInput(f"unreadable external data ({exc})", path=path, hint="re-export the model") from None
    return model


def unsupported(nodes: Any, supported: Any) -> list[str]:
    """`OpType (node name)` for each of `nodes` whose op is not in `supported`
    (or is in another domain than ONNX's own): how refusals name them."""
    return [f"{node.op_type} ({node.name or node.output[0]})" for node in nodes
            if node.op_type not in supported or node.domain not in ("", "ai.onnx")]


def input_channels(model: Any, path: Path) -> int:
    dims = onnx_graph.graph_input(model).type.tensor_type.shape.dim
    if len(dims) != 4 or not dims[1].HasField("dim_value"):
        raise BadInput(
            "the input is not a 4-D NCHW image with a fixed channel count",
            path=path,
            hint="export with input shape (batch, channels, height, width)",
        )
    return int(dims[1].dim_value)


@dataclass
class ProbeRuns:
    values: list[dict[str, np.ndarray]]
    """For each probe size, every tensor's value by name."""


def probe(model: Any, channels: int, path: Path) -> ProbeRuns:
    """Every tensor the graph computes, on random NCHW images at both probe sizes."""
    from converter.graphs.onnx_graph import probe as run_probe

    names = [name for node in model.graph.node for name in node.output if name]
    rng = np.random.default_rng(0)
    try:
        runs = run_probe(model, names, lambda h, w: rng.random((1, channels, h, w), dtype=np.float32))
    except Exception as exc:  # onnxruntime raises its own exception types
        raise BadInput(
            f"onnxruntime cannot load or run the model at the probe sizes ({one_line(exc)})",
            path=path,
        ) from None
    return ProbeRuns(runs)
