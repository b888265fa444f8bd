"""Photos on disk: which files of a folder are photos, and reading one as
floats. Parity inputs, the input-range measurement, int8 calibration and
the UpscalerJS check all read photos through here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.core.errors import BadInput, first_line

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "fixtures" / "images"
"""srconvert's own photos, used when --parity-images / --calibration-images are not given."""
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")


def photo_paths(folder: Path | None) -> list[Path]:
    """The photos in `folder`: its .png, .jpg and .jpeg files (any case), sorted
    by name; hidden files (such as macOS's ._ companions) and everything else
    are ignored. [] when `folder` is None or not a folder."""
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(path for path in Path(folder).iterdir()
                  if path.suffix.lower() in PHOTO_SUFFIXES and not path.name.startswith(".") and path.is_file())


IMAGE_CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}
"""The channel counts of the networks srconvert converts, and the Pillow
mode a photo is read in for each: grayscale, RGB, RGBA."""
FEATHER = 0.25
"""A made-up alpha channel's soft edge, as a share of the ellipse's radius
(an eighth of the photo's side)."""


def load_photo(path: Path, channels: int, multiple: int = 1) -> np.ndarray | None:
    """A photo as (h, w, channels) float32 in [0, 1], cropped to `multiple`;
    None when no image of `channels` can be made of it. Grayscale is the
    photo's luma; RGBA keeps the photo's own alpha, and a photo without one
    gets a cut-out's (`cutout_alpha`), so a 4-channel network is checked on
    transparency and soft edges, not on an alpha that is 1 everywhere.
    BadInput naming the file when it cannot be decoded."""
    from PIL import Image

    mode = IMAGE_CHANNELS.get(channels)
    if mode is None:
        return None
    try:
        with Image.open(path) as image:
            own_alpha = image.has_transparency_data
            pixels = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        # PIL's UnidentifiedImageError and truncated-file errors are OSErrors, a broken PNG chunk a SyntaxError.
        raise BadInput(f"cannot decode this photo: {first_line(error)}", path=path,
                       hint="replace or remove the file (photos are PNG or JPEG)") from None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if channels == 4 and not own_alpha:
        pixels = pixels.copy()
        pixels[..., 3] = cutout_alpha(*pixels.shape[:2])
    h, w = pixels.shape[0] // multiple * multiple, pixels.shape[1] // multiple * multiple
    return pixels[:h, :w]


def cutout_alpha(height: int, width: int) -> np.ndarray:
    """The alpha of a subject cut out of a photo: opaque inside an ellipse,
    transparent in the corners, a feathered edge between them, and a
    hard-edged transparent notch on the right (a scissors cut): every kind
    of alpha value a 4-channel network meets."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    radius = np.hypot((y - cy) / max(cy, 1), (x - cx) / max(cx, 1))  # 1 on the ellipse inscribed in the photo
    alpha = np.clip((1.0 - radius) / FEATHER + 0.5, 0.0, 1.0)
    alpha[(x > cx + width / 4) & (np.abs(y - cy) < height / 8)] = 0.0
    return alpha.astype(np.float32)


def fitted(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, c) `pixels` at exactly height x width: cropped, and where
    smaller first mirrored out, as a tiler pads an edge tile."""
    extra = ((0, max(0, height - pixels.shape[0])), (0, max(0, width - pixels.shape[1])), (0, 0))
    return np.pad(pixels, extra, mode="symmetric")[:height, :width]
