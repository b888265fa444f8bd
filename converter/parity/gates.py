"""The bar each precision must clear, and `--gate` overrides of it.

float32 must match to within 1e-4 of the output range at every element; lossy
precisions are judged by PSNR on that range, since their error is spread out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from converter.core.errors import BadInput

if TYPE_CHECKING:  # the CLI reads the gate table at start-up: no numpy for it
    from converter.parity.metrics import Metrics

METRICS = ("max_abs_rel", "psnr")


@dataclass(frozen=True)
class Gate:
    metric: str
    threshold: float

    def passes(self, metrics: "Metrics") -> bool:
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


DEFAULT_GATES: dict[str, Gate] = {
    "float32": Gate("max_abs_rel", 1e-4),
    "float16": Gate("psnr", 60.0),
    "uint16": Gate("psnr", 60.0),
    "uint8": Gate("psnr", 40.0),
    "int8": Gate("psnr", 35.0),
}


def parse_overrides(values: tuple[str, ...]) -> dict[str, Gate]:
    """`--gate uint8:psnr=38 --gate float32:max_abs_rel=1e-3` -> gates."""
    gates = dict(DEFAULT_GATES)
    for value in values:
        try:
            precision, rest = value.split(":", 1)
            metric, threshold = rest.split("=", 1)
            gate = Gate(metric.strip(), float(threshold))
        except ValueError:
            raise BadInput(
                f"--gate {value!r} is not PRECISION:METRIC=VALUE",
                hint="e.g. --gate uint8:psnr=38 or --gate float32:max_abs_rel=1e-3",
            ) from None
        if precision not in DEFAULT_GATES or gate.metric not in METRICS:
            raise BadInput(
                f"--gate {value!r}: precision must be one of {', '.join(DEFAULT_GATES)} "
                f"and metric one of {', '.join(METRICS)}",
            )
        gates[precision] = gate
    return gates
