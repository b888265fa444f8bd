"""An ONNX artifact in onnxruntime-web (wasm), inside the shared Node host,
as a browser page runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.backends.node.host import NodeHost
from converter.backends.node.runner import NodeRunner
from converter.graphs.layout import from_layout, to_layout


class OrtWebRunner(NodeRunner):
    runtime = "onnxruntime-web"
    lane = "ortweb"

    def __init__(self, host: NodeHost, model_path: Path, layout: str) -> None:
        super().__init__(host, model_path, "onnx", None)
        self.layout = layout

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return from_layout(super().infer(to_layout(batch, self.layout)), self.layout)


def for_artifact(artifact, root: Path, runtimes) -> OrtWebRunner:
    return OrtWebRunner(runtimes.host(OrtWebRunner.lane), root / artifact.entry, artifact.layout)
