"""A transformers.js model folder (targets/transformersjs.py) through the
real `pipeline('image-to-image', ...)` of @huggingface/transformers, in the
shared Node host's "transformersjs" lane, with the dtype that picks the
artifact's file.

The pipeline takes and gives 8-bit images, so this runner runs the parity
photos only (their pixels are exact in 8 bits; the random tiles are not),
hands it those pixels, and reads its pixels back in the model's output
units. What it is compared with is the source's output put through the same
convention (`expected`: clamped to the output range, rounded to 256 levels);
float32 is then judged by one level at most (`gate`), the lossy precisions
by their own PSNR gates on those levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.backends.node.host import NodeHost
from converter.backends.node.runner import NodeRunner
from converter.backends.transformersjs import DTYPE_OF_FILE
from converter.core.precisions import Gate

LEVELS = 255.0
MIN_INSIDE = 0.1
"""Below this share of the source's output inside the range the pipeline
keeps, its clamp hides nearly everything: the check would prove nothing."""


class PixelPipeline:
    """What the pipeline's 8-bit convention asks of a runner, in Node or in a
    browser page: photos only, pixels in and out, the source's output put
    through the same rounding, one level for float32."""

    photos_only = True
    low: float
    high: float

    def to_pixels(self, batch: np.ndarray) -> np.ndarray:
        return np.rint((batch - self.low) / (self.high - self.low) * LEVELS).clip(0, LEVELS).astype(np.float32)

    def from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return self.low + pixels / LEVELS * (self.high - self.low)

    def expected(self, reference: np.ndarray) -> np.ndarray:
        levels = np.rint(np.clip((reference - self.low) / (self.high - self.low), 0, 1) * LEVELS)
        return self.from_pixels(levels).astype(np.float32)

    def vacuous(self, expected: list[np.ndarray]) -> str | None:
        share = float(np.mean([((e > self.low) & (e < self.high)).mean() for e in expected]))
        if share >= MIN_INSIDE:
            return None
        return (f"only {100 * share:.1f}% of the source's output on the photos lies inside "
                f"{self.low:g}..{self.high:g}: the pipeline clamps the rest, so a difference there could not show "
                "(untrained weights, or the wrong --input-range?)")

    def gate(self, gate: Gate, value_range: float) -> Gate:
        if gate.metric != "max_abs_rel":
            return gate
        level = (self.high - self.low) / LEVELS  # one 8-bit step, as a share of the reference's range
        return Gate("max_abs_rel", max(gate.threshold, 1.001 * level / value_range))


class TransformersJsRunner(PixelPipeline, NodeRunner):
    runtime = "transformersjs"
    lane = "transformersjs"

    def __init__(self, host: NodeHost, folder: Path, dtype: str, value_range: tuple[float, float]) -> None:
        super().__init__(host, folder, "transformersjs", None)
        self.load_fields = {"dtype": dtype}
        self.low, self.high = value_range

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.from_pixels(super().infer(self.to_pixels(batch)))


def for_artifact(artifact, root: Path, runtimes) -> TransformersJsRunner:
    entry = Path(artifact.entry)  # <folder>/onnx/<the dtype's file>
    return TransformersJsRunner(runtimes.host(TransformersJsRunner.lane), root / entry.parts[0],
                                DTYPE_OF_FILE[entry.name], tuple(runtimes.value_range))
