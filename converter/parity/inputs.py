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
# Parity proves the artifacts compute what the source computes; it is not a
# benchmark, and every runtime pass costs about params x pixels. Above this
# budget (a 4 M-parameter RRDN lands near 3,000 pixels) the inputs shrink by one
# factor: random tiles keep their odd, non-square proportions and photos are
# centre-cropped, so natural-image statistics survive. Fixture-sized models
# stay far below it and keep the full inputs.
MACS_PER_PASS = 8e9
MIN_SIDE = 12
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
    params: int = 0,
) -> list[ParityInput]:
    """`multiple`: sizes are rounded down to it, for models that downsample first.
    `params`: the model's parameter count, which sets the pixel budget."""
    _, fixed_h, fixed_w, channels = input_shape
    low, high = input_range
    photos = []
    for path in sorted(images_dir.glob("*.png")) if images_dir and images_dir.is_dir() else []:
        photo = _photo(path, channels, fixed_h, fixed_w, multiple)
        if photo is not None:
            photos.append((path.stem, photo))
    randoms = RANDOM_SIZES[:1] if fixed_h and fixed_w else RANDOM_SIZES  # a fixed-size model gets one tile
    factor = 1.0
    if not (fixed_h and fixed_w):
        pixels = sum(w * h for w, h in randoms) + sum(p.shape[1] * p.shape[2] for _, p in photos)
        factor = shrink_factor(pixels, params)
    rng = np.random.default_rng(SEED)
    inputs = []
    for width, height in randoms:
        h = fixed_h or _scaled(height, factor, multiple)
        w = fixed_w or _scaled(width, factor, multiple)
        values = rng.uniform(low, high, size=(1, h, w, channels)).astype(np.float32)
        inputs.append(ParityInput(f"random-{w}x{h}", values, False))
    for name, photo in photos:
        inputs.append(ParityInput(name, low + _centre_crop(photo, factor, multiple) * (high - low), True))
    return inputs


def shrink_factor(pixels: int, params: int) -> float:
    """The linear factor that brings `pixels` within the budget for `params`."""
    budget = MACS_PER_PASS / max(params, 1)
    return min(1.0, (budget / pixels) ** 0.5) if pixels else 1.0


def _scaled(size: int, factor: float, multiple: int) -> int:
    floor = -(-MIN_SIDE // multiple) * multiple  # MIN_SIDE rounded up to the multiple
    return min(size // multiple * multiple, max(floor, int(size * factor) // multiple * multiple))


def _centre_crop(photo: np.ndarray, factor: float, multiple: int) -> np.ndarray:
    if factor >= 1.0:
        return photo
    _, h, w, _ = photo.shape
    ch, cw = _scaled(h, factor, multiple), _scaled(w, factor, multiple)
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(photo[:, top : top + ch, left : left + cw])


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
