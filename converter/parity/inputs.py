"""The parity inputs: computed once per run and fed to every runtime.

Random tiles at two non-square sizes catch layout and padding mistakes that a
square input hides; real photo crops catch errors that only show on the value
distribution of natural images (quantization above all).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Width x height, as image tools say it; arrays are NHWC, so (1, h, w, c).
RANDOM_SIZES = ((37, 29), (64, 48))
SEED = 1234
DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "fixtures" / "images"


@dataclass(frozen=True)
class ParityInput:
    name: str
    array: np.ndarray  # (1, h, w, c) float32 in the model's input range
    is_photo: bool


def parse_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition(":")
    return float(low), float(high)


def build(
    input_shape: list[int | None],
    input_range: tuple[float, float],
    images_dir: Path | None = DEFAULT_IMAGES,
    multiple: int = 1,
) -> list[ParityInput]:
    """`multiple`: sizes are rounded down to it, for models that downsample first."""
    _, fixed_h, fixed_w, channels = input_shape
    low, high = input_range
    rng = np.random.default_rng(SEED)
    inputs = []
    for width, height in RANDOM_SIZES:
        h, w = fixed_h or height // multiple * multiple, fixed_w or width // multiple * multiple
        values = rng.uniform(low, high, size=(1, h, w, channels)).astype(np.float32)
        inputs.append(ParityInput(f"random-{w}x{h}", values, False))
        if fixed_h and fixed_w:
            break  # a fixed-size model gets one random tile
    for path in sorted(images_dir.glob("*.png")) if images_dir and images_dir.is_dir() else []:
        photo = _photo(path, channels, fixed_h, fixed_w, multiple)
        if photo is not None:
            inputs.append(ParityInput(path.stem, low + photo * (high - low), True))
    return inputs


def load_photo(path: Path, channels: int, multiple: int = 1) -> np.ndarray | None:
    """A photo as (h, w, channels) float32 in [0, 1], cropped to `multiple`;
    None when its channels do not fit the model."""
    from PIL import Image

    with Image.open(path) as image:
        mode = "L" if channels == 1 else "RGB"
        pixels = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[-1] != channels:
        return None
    h, w = pixels.shape[0] // multiple * multiple, pixels.shape[1] // multiple * multiple
    return pixels[:h, :w]


def _photo(path: Path, channels: int, fixed_h: int | None, fixed_w: int | None, multiple: int) -> np.ndarray | None:
    pixels = load_photo(path, channels, multiple)
    if pixels is None:
        return None
    if fixed_h and fixed_w:
        if pixels.shape[0] < fixed_h or pixels.shape[1] < fixed_w:
            return None
        pixels = pixels[:fixed_h, :fixed_w]
    return pixels[None].astype(np.float32)
