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


def load_photo(path: Path, channels: int, multiple: int = 1) -> np.ndarray | None:
    """A photo as (h, w, channels) float32 in [0, 1], cropped to `multiple`;
    None when its channels do not fit the model. BadInput naming the file when
    it cannot be decoded."""
    from PIL import Image

    mode = "L" if channels == 1 else "RGB"
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        # PIL's UnidentifiedImageError and truncated-file errors are OSErrors, a broken PNG chunk a SyntaxError.
        raise BadInput(f"cannot decode this photo: {first_line(error)}", path=path,
                       hint="replace or remove the file (photos are PNG or JPEG)") from None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[-1] != channels:
        return None
    h, w = pixels.shape[0] // multiple * multiple, pixels.shape[1] // multiple * multiple
    return pixels[:h, :w]
