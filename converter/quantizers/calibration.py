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
    which every photo is cropped to (smaller photos are left out)."""
    from converter.core.photos import load_photo, photo_paths

    low, high = input_range
    batches = []
    for path in photo_paths(images_dir):
        pixels = load_photo(path, channels, multiple)
        if pixels is not None and size is not None:
            fits = pixels.shape[0] >= size.height and pixels.shape[1] >= size.width
            pixels = pixels[: size.height, : size.width] if fits else None
        if pixels is None:
            continue
        batch = (low + pixels * (high - low))[None]
        batches.append(to_layout(batch, layout))
    if not batches:
        raise BadInput(
            f"no PNG or JPEG images with {channels} channel(s) to calibrate int8 quantization on",
            path=images_dir,
            hint="pass --calibration-images DIR with a few representative photos",
        )
    return batches
