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
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise BadInput(f"not a readable ONNX model ({exc})", path=path, hint="re-export the model") from None
    _check_names(model.graph, path)
    return model


def _check_names(graph: Any, path: Path) -> None:
    """Every name the graph holds is text. ONNX's protobuf keeps strings
    unchecked, and hands a name that is not UTF-8 over as bytes, which every
    later use of it (layer names, refusals, lookups) would trip on: refused
    here, where it enters. Subgraphs (If, Loop) are checked too."""
    names = [graph.name, *(i.name for i in graph.initializer), *(v.name for v in graph.input),
             *(text for i in graph.initializer for entry in i.external_data for text in (entry.key, entry.value)),
             *(v.name for v in graph.output), *(v.name for v in graph.value_info)]
    for node in graph.node:
        names += [node.name, node.op_type, node.domain, *node.input, *node.output, *(a.name for a in node.attribute)]
        for attribute in node.attribute:
            for subgraph in (attribute.g, *attribute.graphs) if attribute.HasField("g") or attribute.graphs else ():
                _check_names(subgraph, path)
    bad = next((name for name in names if not isinstance(name, str)), None)
    if bad is not None:
        raise BadInput(f"a name in the graph is not UTF-8 text ({bytes(bad)[:60]!r}): the file is damaged",
                       path=path, hint="re-export the model")


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
