"""An ONNX artifact in onnxruntime (Python, CPU), as servers run it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from converter.backends.base import Runner, Stopwatch
from converter.graphs import onnx_graph
from converter.graphs.layout import from_layout, to_layout


class OnnxRuntimeRunner(Runner):
    runtime = "onnxruntime"

    def __init__(self, model_path: Path, layout: str, threads: int = 0, session: Any = None) -> None:
        """`threads`: intra-op threads; 0 lets onnxruntime use every core.
        `session`: the file's session, where the caller has one loaded."""
        super().__init__()
        self.model_path = model_path
        self.layout = layout
        self.threads = threads
        self._session = session

    def activate(self) -> None:
        if self._session is None:
            self._session = onnx_graph.session(self.model_path, threads=self.threads)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        name = self._session.get_inputs()[0].name
        feed = {name: to_layout(batch, self.layout)}
        with Stopwatch() as watch:
            out = self._session.run(None, feed)[0]
        self.last_ms = watch.ms
        return from_layout(np.asarray(out, dtype=np.float32), self.layout)

    def deactivate(self) -> None:
        self._session = None

    def runs_file(self) -> Path:
        return self.model_path


def for_artifact(artifact, root: Path, runtimes) -> OnnxRuntimeRunner:
    return OnnxRuntimeRunner(root / artifact.entry, artifact.layout, runtimes.ort_threads)
