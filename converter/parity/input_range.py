"""The pixel range a model takes, and how srconvert knows it.

A range comes from the user (`--input-range`: origin `option`), a release
recipe (`recipe`), the model's own behaviour (`measured`) or, failing all
three, the usual for ISR and ESRGAN models, 0:1 (`assumed`).

Measuring: the source runs on a real photo at each candidate range, and each
output is read back on that range (clipped, as a client shows it) and put
beside the photo upscaled by bicubic. A super-resolution network fed the
range it was trained on gives an image close to bicubic (25-40 dB); fed the
wrong one, a network that subtracts a mean, normalises or ends in a bounded
activation gives a flat or saturated image (under 15 dB), and one that copes
with any range still gives a far worse one (8 dB or more below). When exactly
one candidate resembles the photo and the other is that far from it, that is
the range, measured. When both do (a
nearly scale-equivariant network, as ISR's and UpscalerJS's are) either
works, and the range stays assumed; when neither does (random weights, as in
the test fixtures) nothing could be measured, and it says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converter.core.errors import SrconvertError, first_line

CANDIDATES = ((0.0, 1.0), (0.0, 255.0))
DEFAULT = CANDIDATES[0]
RESEMBLES_DB = 20.0
"""An output this close to bicubic (PSNR on 0..1) shows the photo."""
DIFFERS_DB = 15.0
"""One this far is not the photo."""
MARGIN_DB = 8.0
"""Or one this much further from bicubic than the range that resembles it
(over 6x its squared error): a network that handles any range somewhat but
one far better, as Real-ESRGAN's x4plus does (28.4 dB at 0:1, 17.5 at
0:255). Scale-equivariant networks score within a decibel at both; between
the two the call is left open."""
CROP = 48
"""The photo crop's side: enough texture to tell, cheap for any model."""
ORIGINS = ("option", "recipe", "measured", "assumed")


@dataclass(frozen=True)
class RangeFinding:
    range: tuple[float, float]
    origin: str
    """One of ORIGINS."""
    reason: str
    """One sentence: how the range was decided."""
    scores: dict[str, float | None] = field(default_factory=dict)
    """Candidate ("0:1") -> PSNR dB of its output against bicubic; empty when
    nothing ran."""

    @property
    def assumed(self) -> bool:
        return self.origin == "assumed"

    def warning(self) -> str | None:
        """The line every report and stderr carry for an assumed range."""
        if not self.assumed:
            return None
        return (f"input range {text(self.range)} is assumed, not known: {self.reason}; "
                "pass --input-range if the publisher says otherwise")

    def as_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "reason": self.reason,
                "scores_db": {k: (None if v is None else round(v, 2)) for k, v in self.scores.items()}}


def text(value: tuple[float, float]) -> str:
    return f"{value[0]:g}:{value[1]:g}"


def given(value: tuple[float, float], origin: str, reason: str | None = None) -> RangeFinding:
    """A range the run was told; `reason` says why, where the teller assumed it (a zoo entry)."""
    where = "--input-range" if origin == "option" else "the recipe's [model] input_range"
    return RangeFinding(tuple(value), origin, reason or f"set by {where}")


def photo(images_dir: Path | None) -> Path | None:
    """The photo a range is measured on: the parity images' first, else the
    client check's photo (None in an installed package without fixtures)."""
    from converter.core.photos import photo_paths
    from converter.parity.client import PHOTO

    photos = photo_paths(images_dir)
    return photos[0] if photos else (PHOTO if PHOTO.is_file() else None)


@dataclass(frozen=True)
class Probe:
    """The photo crop a range is measured on, as each candidate feeds it."""

    crop: np.ndarray
    """(h, w, c) in 0..1."""
    batches: tuple[np.ndarray, ...]
    """One NHWC float32 batch per candidate, in CANDIDATES order."""


def probe(input_shape, multiple: int, photo: Path | None) -> Probe | RangeFinding:
    """The inputs a range is measured on, or the assumed finding that says
    why there are none."""
    if photo is None:
        return RangeFinding(DEFAULT, "assumed", "no photo to measure it on (the parity images folder has none)")
    crop = _crop(photo, input_shape, multiple)
    if crop is None:
        return RangeFinding(DEFAULT, "assumed", f"{photo.name} does not fit the model's input")
    return Probe(crop, tuple((crop * candidate[1])[None].astype(np.float32) for candidate in CANDIDATES))


def measure(runner, input_shape, multiple: int, photo: Path | None) -> RangeFinding:
    """Decide the range from the model's behaviour on `photo` (see the
    module's docstring). `runner`: the source model's (or a stand-in's
    whose finding the source confirms: `confirmed`), entered here."""
    inputs = probe(input_shape, multiple, photo)
    if isinstance(inputs, RangeFinding):
        return inputs
    try:
        outputs = run(runner, inputs)
    except SrconvertError:  # the source itself is at fault (cannot load, over budget): that is the run's error
        raise
    except Exception as exc:  # noqa: BLE001 - any runtime's error: the range stays a guess, and says why
        return RangeFinding(DEFAULT, "assumed", f"the model could not be run to measure it ({first_line(exc, 160)})")
    return scored(inputs, outputs)


def run(runner, inputs: Probe) -> list[np.ndarray]:
    """`runner`'s outputs on the probe's batches (entered here); its errors propagate."""
    with runner as active:
        return [active.run(batch) for batch in inputs.batches]


def scored(inputs: Probe, outputs: list[np.ndarray]) -> RangeFinding:
    """The finding the model's `outputs` on the probe's batches give."""
    return _decide({text(candidate): _resemblance(inputs.crop, output[0], candidate)
                    for candidate, output in zip(CANDIDATES, outputs)})


def confirmed(predicted: RangeFinding, inputs: Probe, source_outputs: list[np.ndarray], stand_in: str) -> RangeFinding:
    """The source's own finding, from its outputs on the probe, where
    `predicted` (measured on `stand_in`, which ran first) decided the range
    the run used. The same range: the source's finding, which the reports
    record. Another: the run's parity inputs were at the wrong range, so it
    ends (ParityFailed) naming --input-range."""
    from converter.core.errors import ParityFailed

    finding = scored(inputs, source_outputs)
    if finding.range == predicted.range and finding.origin == predicted.origin:
        return finding
    raise ParityFailed(
        f"the input range measured on the source ({text(finding.range)}, {finding.origin}: {finding.reason}) is not "
        f"the one measured on {stand_in} ({text(predicted.range)}, {predicted.origin}), which parity ran at; "
        "nothing was written",
        hint=f"pass --input-range {text(finding.range)} if the publisher says so, and report the model")


def _decide(scores: dict[str, float | None]) -> RangeFinding:
    shown = ", ".join(f"{k} {'-' if v is None else f'{v:.1f}'} dB" for k, v in scores.items())
    known = {k: v for k, v in scores.items() if v is not None}
    like = [k for k, v in known.items() if v >= RESEMBLES_DB]
    if len(like) == 1 and all(v < DIFFERS_DB or v <= known[like[0]] - MARGIN_DB
                              for k, v in known.items() if k != like[0]):
        chosen = like[0]
        return RangeFinding(_parse(chosen), "measured",
                            f"only at {chosen} does the output resemble the photo (against bicubic: {shown})", scores)
    if len(like) == len(known) == len(CANDIDATES):
        return RangeFinding(DEFAULT, "assumed", f"the model gives a plausible image at both 0:1 and 0:255 "
                            f"(against bicubic: {shown}); parity used {text(DEFAULT)}", scores)
    if not like:
        return RangeFinding(DEFAULT, "assumed", f"the output resembles the photo at neither range (against bicubic: "
                            f"{shown}; untrained weights?), so nothing could be measured", scores)
    return RangeFinding(DEFAULT, "assumed", f"the outputs do not tell the ranges apart (against bicubic: {shown})",
                        scores)


def _parse(value: str) -> tuple[float, float]:
    low, high = value.split(":")
    return float(low), float(high)


def _crop(photo: Path, input_shape, multiple: int) -> np.ndarray | None:
    """A centre crop of the photo in 0..1, (h, w, c), at the model's fixed
    size or CROP rounded down to `multiple`."""
    from converter.core.photos import load_photo

    _, fixed_h, fixed_w, channels = input_shape
    pixels = load_photo(photo, channels or 3, multiple)
    if pixels is None:
        return None
    h = fixed_h or max(multiple, CROP // multiple * multiple)
    w = fixed_w or max(multiple, CROP // multiple * multiple)
    if pixels.shape[0] < h or pixels.shape[1] < w:
        return None
    top, left = (pixels.shape[0] - h) // 2, (pixels.shape[1] - w) // 2
    return np.ascontiguousarray(pixels[top:top + h, left:left + w])


def _resemblance(crop: np.ndarray, output: np.ndarray, candidate: tuple[float, float]) -> float | None:
    """PSNR (on 0..1) of the output read on `candidate` against the crop
    upscaled by bicubic; None when the output is not an upscaled image of it."""
    from PIL import Image

    h, w, channels = crop.shape
    if output.ndim != 3 or output.shape[2] != channels or output.shape[0] % h or output.shape[0] // h != output.shape[1] / w:
        return None
    size = (output.shape[1], output.shape[0])
    planes = [np.asarray(Image.fromarray(crop[..., c]).resize(size, Image.BICUBIC)) for c in range(channels)]
    bicubic = np.clip(np.stack(planes, axis=-1), 0.0, 1.0)
    shown = np.clip((output.astype(np.float64) - candidate[0]) / (candidate[1] - candidate[0]), 0.0, 1.0)
    if not np.all(np.isfinite(shown)):
        return None
    mse = float(np.mean(np.square(shown - bicubic)))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
