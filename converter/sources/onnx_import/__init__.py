"""PyTorch-exported ONNX as a source: the graph is rebuilt as a Keras (NHWC)
functional model with srconvert's own layers, so everything after the loader
(TFJS and ONNX output, quantization, parity) is the same pipeline.

The parity reference is onnxruntime running the source file itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converter.errors import BadInput
from converter.sources.loaded import Loaded
from converter.sources.onnx_import import graph, translate


def describe(path: Path, fmt: str) -> dict[str, Any]:
    model = graph.load_model(path)
    unsupported = translate.unsupported_ops(model)
    if unsupported:
        kinds = sorted({entry.split(" ", 1)[0] for entry in unsupported})
        raise BadInput(
            f"unsupported ONNX ops {', '.join(kinds)}: " + ", ".join(unsupported[:12])
            + (f" and {len(unsupported) - 12} more" if len(unsupported) > 12 else ""),
            path=path,
            hint="README lists the supported ops; nothing was written",
        )
    source_input = graph.graph_input(model)
    channels = graph.input_channels(model, path)
    probe = graph.probe(model, channels, path)
    translator = translate.Translator(model, probe, path)
    topology = translator.run(source_input.name, channels, model.graph.output[0].name)
    producer = f"{model.producer_name} {model.producer_version}".strip() or None
    return {"keras_version": None, "producer": producer, "topology": topology, "payload": translator.graph.weights}


def load(info, options):
    from converter.backends.onnxruntime.runner import OnnxRuntimeRunner

    return Loaded(info.payload, OnnxRuntimeRunner(info.path, "nchw"))
