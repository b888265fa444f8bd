"""The source model in TensorFlow/Keras: the parity reference."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from converter.backends.base import Runner, Stopwatch


class KerasRunner(Runner):
    runtime = "tensorflow"

    def __init__(self, model: Any = None, load: Callable[[], Any] | None = None) -> None:
        """A Keras model, or `load`, which gives one when the runner is first
        activated (so a source can be loaded on the reference lane, while the
        other lanes already verify artifacts)."""
        super().__init__()
        self._model = model
        self._load = load

    def activate(self) -> None:
        if self._model is None:
            self._model = self._load()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        with Stopwatch() as watch:
            out = self._model(batch, training=False)
            if isinstance(out, (list, tuple)):
                out = out[0]
            out = np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float32)
        self.last_ms = watch.ms
        return out
