"""How far an artifact's outputs are from the reference's: the numbers
(converter.core.metrics, which the quantizers' searches share) and how
reports print them."""

from __future__ import annotations

import math
from typing import Any

from converter.core.metrics import Metrics, compare, compare_as_shown, output_range, share_inside

__all__ = ["Metrics", "compare", "compare_as_shown", "output_range", "share_inside", "psnr_text", "number_text"]


def psnr_text(result: dict[str, Any]) -> str:
    """A result's PSNR as the reports print it: `inf` for identical outputs,
    `-inf` for outputs that are not finite or not the reference's shape (JSON
    holds both as null; max_abs tells them apart), `-` for none."""
    if result.get("error"):
        return "-"
    value = result.get("psnr_db")
    if value is None and "max_abs" in result:
        return "inf" if result["max_abs"] == 0 else "-inf"
    return number_text(value, "{:.1f}")


def number_text(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return fmt.format(value)
