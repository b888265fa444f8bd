"""The one interface every runtime runner sits behind (after Polygraphy):
activate, infer, deactivate. The parity comparator never sees a runner; it
only gets the arrays runners return.

Callers enter a runner (`with runner:`) and call `run`: each then runs under
its deadline (converter.core.deadline), derived from the work the batch asks of
the model and the runner's `speed`."""

from __future__ import annotations

import abc
import time

import numpy as np

from converter.core import deadline


class Runner(abc.ABC):
    runtime: str = "?"
    """Short name of the runtime, as reports show it (e.g. `tfjs-wasm`)."""
    lane: str = "local"
    """Runners of one lane run one after another on one thread (see backends.lanes)."""
    small_inputs: bool = False
    """Run on the small subset of the parity inputs (a software-rendered GPU
    is slow; one tile and one photo still catch layout and value errors)."""
    speed: str = "cpu"
    """How fast it computes, a key of converter.core.deadline.SPEEDS."""
    photos_only: bool = False
    """Run on the photo inputs only: a client that takes 8-bit images cannot
    be given the random tiles' float values."""
    reflect_padding: int = 0
    """Pixels the runtime adds beyond every image edge, by reflection, before
    the model, cropping what they become after (upscayl-bin's tiles): it is
    compared with the source run on its inputs padded the same way."""

    def __init__(self) -> None:
        self.last_ms: float = float("nan")

    def activate(self) -> None:
        """Load the model; cheap to call twice."""

    @abc.abstractmethod
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """NHWC float32 batch in, NHWC float32 batch out; sets `last_ms`."""

    def deactivate(self) -> None:
        """Release the model."""

    def expected(self, reference: np.ndarray) -> np.ndarray:
        """The source's output as this runtime can give it (a client that
        hands out 8-bit pixels: clamped and rounded the same way)."""
        return reference

    def vacuous(self, expected: list[np.ndarray]) -> str | None:
        """Why comparing against these `expected` outputs would prove
        nothing in this runtime, or None."""
        return None

    def gate(self, gate, value_range: float):
        """The gate this runtime's outputs are judged by (core.precisions.Gate):
        the precision's own, unless the runtime's output format cannot
        carry it (8-bit pixels cannot hold float32's 1e-4)."""
        return gate

    def runs_file(self):
        """The one file it runs as it is on disk (pathlib.Path), or None
        where it runs something made from it (a network, a translation)."""
        return None

    def run(self, batch: np.ndarray, **options) -> np.ndarray:
        """`infer`, under the deadline the batch's work gives it."""
        clock = deadline.current()
        _, height, width = batch.shape[:3]
        with clock.call(f"{self.runtime} inference on a {width}x{height} input",
                        clock.inference(batch.shape[0] * height * width, self.speed)):
            return self.infer(batch, **options)

    def __enter__(self) -> "Runner":
        with deadline.current().call(f"loading the model in {self.runtime}"):
            self.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.deactivate()


class Deferred:
    """A runner made on first activation, on the lane that activates it (a
    source's reference is loaded only if parity runs, and where it runs)."""

    def __init__(self, make) -> None:
        self._make = make
        self._runner = None

    def __enter__(self) -> Runner:
        with deadline.current().call("loading the source model"):
            self._runner = self._make()
        return self._runner.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._runner.deactivate()


class Stopwatch:
    def __enter__(self) -> "Stopwatch":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms = (time.perf_counter() - self.start) * 1000.0
