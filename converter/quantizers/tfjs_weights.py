"""TF.js weight quantization (emitters.tfjs.write stores what `quantize`
gives): what TensorFlow.js itself reads back, so what
tensorflowjs's writer computes (tensorflowjs 4.22, `quantization.py`,
Apache-2.0). No TensorFlow needed: it is arithmetic on arrays.

- float16: a plain cast; TF.js widens each value back to float32.
- uint8/uint16: one affine range per tensor, `value = q * scale + min`, its
  `min` nudged (as TF-Lite does) so that 0 is exactly one of the levels when
  the range holds 0; TF.js has no per-channel form.

The expressions keep tensorflowjs's types (float64 bounds against float32
data) so the bytes are the same as its writer's: tests/test_tfjs_writer.py
checks them against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

AFFINE = {"uint8": np.uint8, "uint16": np.uint16}
PRECISIONS = ("float16", *AFFINE)
"""The precisions TF.js stores weights in besides float32."""


def quantize(data: np.ndarray, precision: str) -> tuple[np.ndarray, dict[str, Any]]:
    """A float32 tensor stored at `precision`, and the metadata TF.js reads
    to expand it (`{}` for float16)."""
    if precision == "float16":
        return data.astype(np.float16), {}
    dtype = AFFINE[precision]
    low = data.min().astype(np.float64)
    high = data.max().astype(np.float64)
    if low == high:  # a constant tensor: every level is `min`
        return np.zeros_like(data, dtype=dtype), {"min": low, "scale": 1.0}
    scale, low, high = _nudged_range(low, high, dtype)
    return np.round((data.clip(low, high) - low) / scale).astype(dtype), {"min": low, "scale": scale}


def expanded(data: np.ndarray, precision: str) -> np.ndarray:
    """`data` as TF.js reads it back from `precision` (float32): what an
    artifact computes with, for mixed_precision's search."""
    stored, metadata = quantize(data, precision)
    if precision == "float16":
        return stored.astype(np.float32)
    return np.asarray(stored.astype(np.float64) * metadata["scale"] + metadata["min"], np.float32)


def _nudged_range(low: np.float64, high: np.float64, dtype: Any) -> tuple[Any, Any, Any]:
    levels = np.iinfo(dtype).max
    scale = (high - low) / levels
    if not low <= 0 <= high:  # 0 is not in the range: nothing to keep exact
        return scale, low, high
    zero = np.round((0 - low) / scale)
    nudged_low = -zero * scale
    return scale, nudged_low, levels * scale + nudged_low
