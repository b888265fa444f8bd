"""Quantizers for ONNX artifacts, one module each and one ordered registry.

Each takes the float32 ModelProto and gives the quantized one,
`quantize(proto, calibration=None)`, and says how in `SCHEME` (recorded in
the manifest). `calibration` is a callable returning input batches, for the
quantizers that measure activations. float32 is the export itself, so it
has none. Each is keyed by its kind and precision (`QUANTIZERS.of("onnx",
"int8")`). TF.js stores weights in its own format's forms, one affine range
per tensor (`tfjs_weights`, which the TF.js writer calls).

Only the emitters import this package, when they write an artifact: the
modules import numpy, which the CLI's start-up does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from converter.core.registry import Registry
from converter.quantizers import onnx_float16, onnx_int8_static, onnx_weight_uint8


@dataclass(frozen=True)
class Quantizer:
    kind: str
    """What it quantizes ("onnx": a ModelProto); a target names the kind it
    uses (targets.base.Target.quantizers), so two formats' int8 never collide."""
    precision: str
    """The name in core.precisions it writes."""
    quantize: Callable[..., Any]
    scheme: dict[str, str]
    searched: Callable[..., Any] | None = None
    """For a quantizer that keeps what its gate needs wider:
    `searched(proto, calibration, goal)` -> (ModelProto,
    mixed_precision.Decision), the fewest kept that meet `goal`."""

    @property
    def name(self) -> str:
        return key(self.kind, self.precision)


def key(kind: str, precision: str) -> str:
    """A quantizer's name in the registry: its kind and precision (onnx:int8)."""
    return f"{kind}:{precision}"


class Quantizers(Registry[Quantizer]):
    def of(self, kind: str, precision: str) -> Quantizer:
        """The quantizer of `kind` that writes `precision`."""
        return self[key(kind, precision)]


QUANTIZERS = Quantizers("quantizer", (
    Quantizer("onnx", "float16", onnx_float16.quantize, onnx_float16.SCHEME),
    Quantizer("onnx", "uint8", onnx_weight_uint8.quantize, onnx_weight_uint8.SCHEME, onnx_weight_uint8.searched),
    Quantizer("onnx", "int8", onnx_int8_static.quantize, onnx_int8_static.SCHEME, onnx_int8_static.searched),
))
