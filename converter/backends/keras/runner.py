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
        self._traced: Any = None
        """The traced forward pass (`_forward`); False once tracing failed."""

    def activate(self) -> None:
        if self._model is None:
            self._model = self._load()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        with Stopwatch() as watch:
            out = self._forward(batch)
            if isinstance(out, (list, tuple)):
                out = out[0]
            out = np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float32)
        self.last_ms = watch.ms
        return out

    def _forward(self, batch: np.ndarray) -> Any:
        """The model's forward pass traced once into one TensorFlow graph,
        for any batch and free size. Run eagerly, a functional model
        dispatches each layer from Python (0.2 s a call for a 4 M-parameter
        RRDN's 476 layers, 0.02 s traced), holding the interpreter lock the
        other lanes and the conversion need. A model that cannot be traced
        runs eagerly, as Keras runs it."""
        if self._traced is None:
            try:
                self._traced = _traced(self._model)
                return self._traced(batch)
            except Exception:  # noqa: BLE001 - tracing is an optimisation: Keras's own call decides
                self._traced = False
        if self._traced is False:
            return self._model(batch, training=False)
        return self._traced(batch)

    def deactivate(self) -> None:
        self._traced = None


def _traced(model: Any) -> Callable[[np.ndarray], Any]:
    from converter.core import tf_runtime

    tf = tf_runtime.tensorflow()
    shape = [None, *list(model.inputs[0].shape)[1:]]
    spec = tf.TensorSpec(shape, tf.float32)
    return tf.function(lambda x: model(x, training=False), input_signature=[spec], autograph=False)
