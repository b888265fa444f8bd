"""The calibration photos quantizers measure on (int8's activation ranges,
mixed_precision's search): the run's photos as input batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from converter.core.errors import BadInput
from converter.graphs.layout import to_layout


def calibration_batches(
    images_dir: Path, channels: int, layout: str, input_range: tuple[float, float], multiple: int = 1,
    size: Any = None,
) -> list[np.ndarray]:
    """`size`: the fixed patch size of a fixed-size model (input_size.InputSize),
    which every photo is fitted to as parity fits it (`photos.fitted`: a
    smaller one mirrored out). Leaving smaller photos out left srconvert's
    own, all under 64x64, out of every 64x64 TF.js graph's uint8 search,
    which then kept nothing wider (DRCT: 39.3 dB under the 40 dB gate)."""
    from converter.core.photos import fitted, load_photo, photo_paths

    low, high = input_range
    batches = []
    for path in photo_paths(images_dir):
        pixels = load_photo(path, channels, multiple)
        if pixels is None:
            continue
        if size is not None:
            pixels = fitted(pixels, size.height, size.width)
        batch = (low + pixels * (high - low))[None]
        batches.append(to_layout(batch, layout))
    if not batches:
        raise BadInput(
            f"no PNG or JPEG images with {channels} channel(s) to calibrate int8 quantization on",
            path=images_dir,
            hint="pass --calibration-images DIR with a few representative photos",
        )
    return batches
