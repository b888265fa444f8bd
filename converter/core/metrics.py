"""How far outputs are from a reference's, in numbers: what parity judges
artifacts by (parity.metrics adds how reports print them) and what the
quantizers' searches measure candidates by, so both agree by construction."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metrics:
    max_abs: float
    mean_abs: float
    psnr_db: float
    """On the reference output's range; +inf when the outputs are identical."""
    output_range: float

    def as_dict(self) -> dict[str, float | None]:
        return {
            "max_abs": self.max_abs,
            "mean_abs": self.mean_abs,
            "psnr_db": None if math.isinf(self.psnr_db) else round(self.psnr_db, 3),
            "output_range": self.output_range,
        }


def output_range(references: list[np.ndarray]) -> float:
    high = max(float(r.max()) for r in references)
    low = min(float(r.min()) for r in references)
    return max(high - low, 1e-12)


def compare(references: list[np.ndarray], outputs: list[np.ndarray], value_range: float) -> Metrics:
    """Metrics over every element of every input taken together."""
    if len(references) != len(outputs):
        raise ValueError("one output per reference expected")
    total = sum(r.size for r in references)
    abs_sum = squared_sum = 0.0
    max_abs = 0.0
    for ref, out in zip(references, outputs):
        if ref.shape != out.shape:
            return Metrics(math.inf, math.inf, -math.inf, value_range)
        diff = np.abs(ref.astype(np.float64) - out.astype(np.float64))
        if not np.all(np.isfinite(diff)):
            return Metrics(math.inf, math.inf, -math.inf, value_range)
        max_abs = max(max_abs, float(diff.max()))
        abs_sum += float(diff.sum())
        squared_sum += float(np.square(diff).sum())
    mse = squared_sum / total
    psnr = math.inf if mse == 0 else 10.0 * math.log10(value_range**2 / mse)
    return Metrics(max_abs, abs_sum / total, psnr, value_range)


def compare_as_shown(references: list[np.ndarray], outputs: list[np.ndarray],
                     pixel_range: tuple[float, float]) -> Metrics:
    """The standard PSNR of images as a user sees them: both sides clipped
    to the model's pixel range (a page or an image file clamps there), peak
    = that range (1 for 0:1, 255 for 0:255). What quantized precisions are
    judged by, on photos: an SR network's error on what a client shows, not
    on the overshoot it computes past black and white."""
    low, high = pixel_range
    return compare([np.clip(r, low, high) for r in references], [np.clip(o, low, high) for o in outputs],
                   float(high - low))


def share_inside(references: list[np.ndarray], pixel_range: tuple[float, float]) -> float:
    """The share of the values of `references` inside `pixel_range`."""
    low, high = pixel_range
    inside = sum(int(np.count_nonzero((r >= low) & (r <= high))) for r in references)
    return inside / max(1, sum(r.size for r in references))
