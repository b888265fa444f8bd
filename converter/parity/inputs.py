"""The parity inputs: computed once per run and fed to every runtime.

Random tiles at two non-square sizes catch layout and padding mistakes that a
square input hides; real photo crops catch errors that only show on the value
distribution of natural images (quantization above all).

The photos of a folder are its PNG and JPEG files (`photo_paths`). A folder the
user named must give at least one photo the model can take (`check_folder`
before any heavy work, `build(required=True)` once the model is known); the
default folder, absent from an installed package, may give none.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.core.errors import BadInput
from converter.core.photos import DEFAULT_IMAGES, fitted, load_photo, photo_paths

# Width x height, as image tools say it; arrays are NHWC, so (1, h, w, c).
RANDOM_SIZES = ((37, 29), (64, 48))
SEED = 1234
# Parity proves the artifacts compute what the source computes; it is not a
# benchmark, and every runtime pass costs the model's MACs per input pixel
# (converter.graphs.compute, counted in the graph) x pixels. Above this budget per
# input (a 4 M-parameter RRDN lands near 2,000 pixels) the inputs shrink by
# one factor: random tiles keep their odd, non-square proportions and photos
# are centre-cropped, so natural-image statistics survive. Fixture-sized
# models stay far below it and keep the full inputs.
MACS_PER_PASS = 8e9
MIN_SIDE = 12
PHOTOS_HINT = ("put a few representative PNG or JPEG photos in it (RGB, or grayscale for a 1-channel model), "
               "or leave the option out to use srconvert's own")


@dataclass(frozen=True)
class ParityInput:
    name: str
    array: np.ndarray  # (1, h, w, c) float32 in the model's input range
    is_photo: bool
    at_patch: bool = False
    """Made for the artifacts fixed to a patch size (build's `also_at`); a
    free-size artifact has its own inputs, and runs these only if asked."""


def check_folder(folder: Path, channels: int | None = None, input_size: Any = None) -> None:
    """Fail fast (BadInput, exit 2) on a photo folder the user named that gives
    no photo: not a folder, no PNG or JPEG in it, a photo that cannot be decoded,
    or, where known, none with `channels` or at least `input_size`
    (input_size.InputSize, or (height, width)). Needs no model: call it before
    any heavy work. `build(required=True)` checks again against the model's facts."""
    paths = _listed(Path(folder))
    fixed_h, fixed_w = _size(input_size)
    fits = [_photo(path, channels or 3, fixed_h, fixed_w, 1) is not None for path in paths]  # decodes every photo
    if not any(fits):
        raise BadInput(_none_fits(paths, channels or 3, fixed_h, fixed_w, 1), path=folder, hint=PHOTOS_HINT)


def _listed(folder: Path) -> list[Path]:
    """`photo_paths(folder)`, BadInput when it is not a folder or has no photo."""
    if not folder.is_dir():
        raise BadInput("no such folder" if not folder.exists() else "is not a folder", path=folder, hint=PHOTOS_HINT)
    paths = photo_paths(folder)
    if not paths:
        others = sum(1 for path in folder.iterdir() if not path.name.startswith("."))
        ignored = f" ({others} other file{'s' if others != 1 else ''} ignored)" if others else ""
        raise BadInput(f"no PNG or JPEG photo in the folder{ignored}", path=folder, hint=PHOTOS_HINT)
    return paths


def build(
    input_shape: list[int | None],
    input_range: tuple[float, float],
    images_dir: Path | None = DEFAULT_IMAGES,
    multiple: int = 1,
    macs_per_pixel: float = 0.0,
    required: bool = False,
    also_at: Any = None,
    photo_suffix: str = "",
) -> list[ParityInput]:
    """`multiple`: sizes are rounded down to it, for models that downsample first.
    `macs_per_pixel`: the model's work per input pixel, which sets the pixel budget.
    `required`: the user named `images_dir`, so it must give at least one photo
    the model can take (BadInput naming the folder otherwise); when False (the
    default folder) a missing folder or one without a usable photo leaves the
    random tiles alone. A photo that cannot be decoded is BadInput either way.
    `also_at` (input_size.InputSize): a patch size some artifacts are fixed
    to, for a model whose size is free: a random tile and photo crops at it
    follow the free inputs (photo names get `photo_suffix`, "-HxW" there;
    photos smaller than the patch are mirrored out to it)."""
    _, fixed_h, fixed_w, channels = input_shape
    low, high = input_range
    required = required and images_dir is not None
    paths = _listed(Path(images_dir)) if required else photo_paths(images_dir)
    photos = []
    stems = [path.stem for path in paths]
    for path in paths:
        photo = _photo(path, channels, fixed_h, fixed_w, multiple, pad=bool(photo_suffix))
        if photo is not None:  # a.png and a.jpg both there: named by their file names
            photos.append(((path.stem if stems.count(path.stem) == 1 else path.name) + photo_suffix, photo))
    if required and not photos:
        raise BadInput(_none_fits(paths, channels, fixed_h, fixed_w, multiple), path=images_dir, hint=PHOTOS_HINT)
    randoms = RANDOM_SIZES[:1] if fixed_h and fixed_w else RANDOM_SIZES  # a fixed-size model gets one tile
    factor = 1.0
    if not (fixed_h and fixed_w):
        pixels = sum(w * h for w, h in randoms) + sum(p.shape[1] * p.shape[2] for _, p in photos)
        factor = shrink_factor(pixels, macs_per_pixel)
    rng = np.random.default_rng(SEED)
    inputs = []
    for width, height in randoms:
        h = fixed_h or _scaled(height, factor, multiple)
        w = fixed_w or _scaled(width, factor, multiple)
        values = rng.uniform(low, high, size=(1, h, w, channels)).astype(np.float32)
        inputs.append(ParityInput(f"random-{w}x{h}", values, False))
    for name, photo in photos:
        inputs.append(ParityInput(name, low + _centre_crop(photo, factor, multiple) * (high - low), True))
    if also_at is not None and not (fixed_h and fixed_w):
        patch = build([None, also_at.height, also_at.width, channels], input_range, images_dir, multiple,
                      macs_per_pixel, photo_suffix=f"-{also_at}")
        inputs += [dataclasses.replace(item, at_patch=True) for item in patch]
    return inputs


def shrink_factor(pixels: int, macs_per_pixel: float) -> float:
    """The linear factor that brings `pixels` within the budget for a model doing `macs_per_pixel`."""
    budget = MACS_PER_PASS / max(macs_per_pixel, 1.0)
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


def _photo(path: Path, channels: int, fixed_h: int | None, fixed_w: int | None, multiple: int,
           pad: bool = False) -> np.ndarray | None:
    """`pad`: a photo smaller than the fixed size is mirrored out to it, as a
    tiler pads an edge tile, instead of left out."""
    pixels = load_photo(path, channels, multiple)
    if pixels is None or not pixels.shape[0] or not pixels.shape[1]:  # smaller than `multiple` crops to nothing
        return None
    if fixed_h and fixed_w:
        if not pad and (pixels.shape[0] < fixed_h or pixels.shape[1] < fixed_w):
            return None
        pixels = fitted(pixels, fixed_h, fixed_w)
    return pixels[None].astype(np.float32)


def _size(input_size: Any) -> tuple[int | None, int | None]:
    if input_size is None:
        return None, None
    if hasattr(input_size, "height"):
        return input_size.height, input_size.width
    height, width = input_size
    return height, width


def _none_fits(paths: list[Path], channels: int, fixed_h: int | None, fixed_w: int | None, multiple: int) -> str:
    """Why no photo of `paths` fits the model (none does)."""
    if not paths:
        return "no PNG or JPEG photo in the folder"
    none = "its only photo does not fit" if len(paths) == 1 else f"none of its {len(paths)} photos fits"
    if not any(load_photo(path, channels, multiple) is not None for path in paths):
        return f"{none} a model taking {channels} channels (photos are read as RGB, or grayscale for 1 channel)"
    if fixed_h and fixed_w:
        return f"{none} a {fixed_h}x{fixed_w} fixed-size model (a photo must be at least {fixed_h}x{fixed_w} pixels)"
    return f"{none} the model's size multiple of {multiple} (a photo must be at least {multiple}x{multiple} pixels)"
