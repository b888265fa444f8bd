"""The source model in TensorFlow/Keras: the parity reference."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from converter.backends.base import Runner, Stopwatch


class KerasRunner(Runner):
    runtime = "tensorflow"

    def __init__(self, call: Callable[[np.ndarray], Any]) -> None:
        super().__init__()
        self._call = call

    def infer(self, batch: np.ndarray) -> np.ndarray:
        with Stopwatch() as watch:
            out = np.asarray(self._call(batch), dtype=np.float32)
        self.last_ms = watch.ms
        return out
