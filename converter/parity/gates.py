"""`--gate` overrides of the bar each precision must clear (core.precisions)."""

from __future__ import annotations

from converter.core.errors import BadInput
from converter.core.precisions import DEFAULT_GATES, METRICS, Gate


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
