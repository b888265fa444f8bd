"""NCHW and NHWC, in one place: the axis permutations between them, where
an NCHW axis lives in NHWC, and moving numpy batches between them.

Parity, Keras and TF.js work in NHWC; PyTorch and PyTorch-exported ONNX in
NCHW. Numpy only (no framework), so every layer may use it.
"""

from __future__ import annotations

from typing import Any

LAYOUTS = ("nhwc", "nchw")
TO_NHWC = (0, 2, 3, 1)
"""perm for NCHW -> NHWC: NHWC position k holds NCHW axis TO_NHWC[k]."""
TO_NCHW = (0, 3, 1, 2)
"""perm for NHWC -> NCHW."""
NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}
"""NCHW axis -> where it lives in NHWC."""


def to_layout(batch: Any, layout: str) -> Any:
    """An NHWC numpy batch in `layout` (contiguous, as runtimes want it)."""
    import numpy as np

    return np.ascontiguousarray(batch.transpose(TO_NCHW)) if layout == "nchw" else batch


def from_layout(batch: Any, layout: str) -> Any:
    """A numpy batch in `layout` back in NHWC."""
    import numpy as np

    return np.ascontiguousarray(batch.transpose(TO_NHWC)) if layout == "nchw" else batch
