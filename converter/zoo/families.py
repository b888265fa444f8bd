"""What srconvert makes of each OpenModelDB architecture (`data/architectures.json`
ids): the families it converts and checks in `make test` (README, PyTorch
architectures), with the relative work one costs, and why the others are
left out. One table: `zoo plan` classifies from it, and nothing else does.

Work is an estimate, not a measurement: CPU seconds of convert + parity at
the default precisions, for a checkpoint of `BASE_MB`, scaled linearly with
the checkpoint's size. A window-attention network costs several times a
convolutional one of the same size (its TF.js graph is built and run at a
fixed patch, and attention is quadratic in the window). `zoo plan` uses it
only to balance shards, and says it is an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from converter.core.photos import IMAGE_CHANNELS
from converter.core.registry import Registry


@dataclass(frozen=True)
class Family:
    id: str
    """OpenModelDB's architecture id (architectures.json)."""
    name: str
    """spandrel's name for it (what the manifest's source.architecture records)."""
    seconds: float
    """Estimated CPU seconds for a `BASE_MB` checkpoint (a guess: see the module)."""


BASE_MB = 16.0
OVERHEAD_SECONDS = 30.0
"""Per model, whatever its size: processes, runtimes, reports."""

CONVOLUTION, ATTENTION = 60.0, 240.0
CONVERTED: Registry[Family] = Registry("zoo family", key=lambda family: family.id, entries=(
    Family("esrgan", "ESRGAN", CONVOLUTION),
    Family("compact", "Compact", CONVOLUTION),
    Family("span", "SPAN", CONVOLUTION),
    Family("mosr", "MoSR", CONVOLUTION),
    Family("rcan", "RCAN", CONVOLUTION),
    Family("realplksr", "RealPLKSR", CONVOLUTION),
    Family("omnisr", "OmniSR", ATTENTION),
    Family("swinir", "SwinIR", ATTENTION),
    Family("hat", "HAT", ATTENTION),
    Family("dat", "DAT", ATTENTION),
    Family("srformer", "SRFormer", ATTENTION),
    Family("rgt", "RGT", ATTENTION),
    Family("drct", "DRCT", ATTENTION),
    Family("dctlsa", "DCTLSA", ATTENTION),
    Family("craft", "CRAFT", ATTENTION),
))
VIDEO = {"cain", "cain-yuv", "rife", "sofvsr", "tscunet"}
"""Their `input` is `video` in architectures.json: several frames in, or frames between frames."""


def estimated_seconds(architecture: str, weights_bytes: int) -> float:
    family = CONVERTED[architecture]
    return OVERHEAD_SECONDS + family.seconds * (weights_bytes / (1 << 20)) / BASE_MB


def reason_left_out(architecture: str, input_channels: int, output_channels: int) -> str | None:
    """Why srconvert does not build an entry of this kind, or None when it does."""
    if architecture in VIDEO:
        return f"{architecture} is a video network (several frames in, or frames between frames); srconvert " \
               "converts single-image networks"
    if architecture not in CONVERTED:
        return f"architecture {architecture!r} is not among the families srconvert converts and checks " \
               f"({', '.join(sorted(CONVERTED.names()))})"
    if input_channels != output_channels or input_channels not in IMAGE_CHANNELS:
        return f"it maps {_channels(input_channels)} to {output_channels}; srconvert checks grayscale, RGB and " \
               "RGBA networks (1, 3 or 4 channels in, as many out) against photos of as many"
    return None


def _channels(count: int) -> str:
    return f"{count} channel{'' if count == 1 else 's'}"
