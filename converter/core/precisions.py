"""The precisions srconvert writes, in one ordered registry, each with the
bar its artifacts must clear.

float32 must match to within 1e-4 of the reference output's spread at
every element of every parity input, noise tiles included: exactness holds
on any input. Lossy precisions are judged by PSNR, since their error is
spread out, and by what a user sees: the photo inputs only, both outputs
clipped to the model's pixel range, peak = that range (the standard PSNR of
SR papers). An SR network fed noise behaves unlike one fed a picture, so a
lossy precision's numbers on the noise tiles are reported, not gated. Targets declare which of these they write; the CLI's choices
and defaults, recipes, the gates and the npm package all read this table.
No numpy here: the CLI reads it at start-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from converter.core.registry import Registry

METRICS = ("max_abs_rel", "psnr")


@dataclass(frozen=True)
class Gate:
    metric: str
    threshold: float

    @property
    def on_photos(self) -> bool:
        """Judged on the photos as shown (see the module's docstring), not on every input."""
        return self.metric == "psnr"

    def passes(self, metrics: Any) -> bool:
        """`metrics`: a parity.metrics.Metrics."""
        if self.metric == "max_abs_rel":
            return metrics.max_abs <= self.threshold * metrics.output_range
        return metrics.psnr_db >= self.threshold and not math.isnan(metrics.psnr_db)

    def describe(self) -> str:
        """As the parity tables show it."""
        if self.metric == "max_abs_rel":
            return f"<= {self.threshold:g} x range"
        return f">= {self.threshold:g} dB"

    def as_dict(self) -> dict[str, object]:
        return {"metric": self.metric, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Gate":
        return cls(data["metric"], float(data["threshold"]))


@dataclass(frozen=True)
class Precision:
    name: str
    gate: Gate
    """The bar an artifact of this precision clears unless `--gate` moves it."""
    default: bool = False
    """Written when `--quantize` (or a recipe's `precisions`) is not given."""


PRECISIONS: Registry[Precision] = Registry("precision", (
    Precision("float32", Gate("max_abs_rel", 1e-4), default=True),
    Precision("float16", Gate("psnr", 60.0), default=True),
    Precision("uint16", Gate("psnr", 60.0)),
    Precision("uint8", Gate("psnr", 40.0), default=True),
    Precision("int8", Gate("psnr", 35.0)),
))
"""In the order reports, choices and manifests list them."""
DEFAULT = tuple(p.name for p in PRECISIONS if p.default)
DEFAULT_GATES: dict[str, Gate] = {p.name: p.gate for p in PRECISIONS}
