"""PyTorch-exported ONNX as a source: the graph is rebuilt as a Keras (NHWC)
functional model with srconvert's own layers, so everything after the loader
(TFJS and ONNX output, quantization, parity) is the same pipeline.

`describe` reads the graph; the plan refuses, before any work, a target
whose translation lacks an op. The translation to Keras (which probes the
graph in onnxruntime) happens at load, and only for targets that read the
Keras form: the ONNX target takes the graph as it is (`converter.forms.onnx_form`).
The parity reference is onnxruntime running the source file itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converter.core import deadline
from converter.core.errors import BadInput
from converter.graphs import compute, onnx_graph
from converter.sources import declared
from converter.sources.detect import ONNX, Probe
from converter.sources.loaded import Loaded
from converter.sources.onnx_import import graph, translate

NAME = "onnx"
"""The reader's name in sources.READERS."""
FORMATS = {ONNX: "ONNX model (e.g. exported by PyTorch)"}
LIBRARIES = ("onnx", "google.protobuf")
# An ONNX file is a protobuf ModelProto; writers put ir_version (field 1,
# varint) first, so the first byte is its tag.
FIRST_BYTE = b"\x08"
# A file not named .onnx is parsed to see whether it is one only up to this
# size: parsing reads it whole.
SNIFF_BYTES = 256 << 20


def detect(probe: Probe) -> str | None:
    if probe.is_dir or probe.head[:1] != FIRST_BYTE:
        return None
    if probe.path.suffix == ".onnx":
        return ONNX  # a damaged .onnx gets a clear error
    return ONNX if probe.path.stat().st_size <= SNIFF_BYTES and _parses(probe) else None


def _parses(probe: Probe) -> bool:
    try:
        model = _parsed(probe)
    except BadInput:  # not a protobuf ModelProto
        return False
    return len(model.graph.node) > 0


def _parsed(probe: Probe) -> Any:
    """The ModelProto without external data, parsed once per probe."""
    return probe.cached("onnx", lambda: graph.parse(probe.path))


def content_bytes(probe: Probe) -> declared.Content:
    path = probe.given
    return declared.onnx_model(_parsed(probe), path)


def describe(probe: Probe, fmt: str, options) -> dict[str, Any]:
    """What the graph is; which targets can be made of it is the plan's call
    (the ONNX target takes any graph onnxruntime runs)."""
    path = probe.given
    model = graph.with_external_data(_parsed(probe), path)
    onnx_graph.graph_input(model)
    compute.check_control_flow(model, path)  # a loop bomb is refused before anything runs it
    producer = f"{model.producer_name} {model.producer_version}".strip() or None
    return {"keras_version": None, "topology": None, "producer": producer, "payload": model,
            "input_channels": graph.input_channels(model, path)}


def refuse_unsupported(unsupported: list[str], path: Path, purpose: str,
                       hint: str = "README lists the supported ops; nothing was written") -> None:
    """Stop, naming every op in `unsupported` (`OpType (node)` entries)."""
    if not unsupported:
        return
    kinds = sorted({entry.split(" ", 1)[0] for entry in unsupported})
    raise BadInput(
        f"unsupported ONNX ops {purpose}: {', '.join(kinds)}: " + ", ".join(unsupported[:12])
        + (f" and {len(unsupported) - 12} more" if len(unsupported) > 12 else ""),
        path=path,
        hint=hint,
    )


def derive_topology(info) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The graph translated to a Keras topology, and its weights by layer."""
    model = info.payload
    with deadline.current().call("probing the graph in onnxruntime for the Keras rebuild"):
        probe = graph.probe(model, info.input_channels, info.path)
    translator = translate.Translator(model, probe, info.path)
    topology = translator.run(onnx_graph.graph_input(model).name, info.input_channels, model.graph.output[0].name)
    return topology, translator.graph.weights


def load(info, options):
    topology, weights = derive_topology(info)
    return Loaded(weights, source_runner(info), topology=topology)


def source_runner(info, session=None):
    """The parity reference of a graph source: the network a PyTorch
    checkpoint holds, or onnxruntime running the ONNX file itself (on one
    thread, as the artifacts run: a pool on every core spins while it waits,
    and the conversion and the other lanes want those cores). `session`:
    that file's onnxruntime session, where one is loaded already."""
    from converter.backends.onnxruntime.runner import OnnxRuntimeRunner

    if info.reference is not None:
        return info.reference()
    return OnnxRuntimeRunner(info.path, "nchw", threads=1, session=session)
