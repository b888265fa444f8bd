"""The release client check's own arithmetic (parity.client): what it feeds
UpscalerJS and the source, and how it finds a seam. The check itself, in
Chromium, is in test_browser.py."""

from __future__ import annotations

import math

import numpy as np

from converter.core.precisions import DEFAULT_GATES
from converter.parity import client


def _image(h=40, w=60, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (1, h, w, 3)).astype(np.float32)


def test_a_seam_is_found_on_its_line_where_whole_image_psnr_would_hide_it():
    whole = _image()
    tiled = whole.copy()
    tiled[:, :, 37] += 12.0  # one column off by 12 levels: a visible seam
    line, where = client.worst_line(whole, tiled)
    assert where == "column 37"
    assert abs(line.psnr_db - 20 * math.log10(255 / 12.0)) < 1e-4
    gate = DEFAULT_GATES["uint8"]
    assert not gate.passes(line)
    overall = client.parity_metrics.compare([whole], [tiled], client.PIXEL_RANGE)
    assert gate.passes(overall)  # the whole-image measure would have let it through


def test_rows_are_searched_as_well_as_columns_and_identical_outputs_have_no_seam():
    whole = _image()
    tiled = whole.copy()
    tiled[:, 5] -= 3.0
    assert client.worst_line(whole, tiled)[1] == "row 5"
    assert math.isinf(client.worst_line(whole, whole.copy())[0].psnr_db)


def test_pixels_go_in_and_out_as_upscalerjs_scales_them():
    pixels = np.array([0.0, 127.5, 255.0], np.float32)
    assert np.allclose(client.to_model(pixels, (0.0, 1.0)), [0.0, 0.5, 1.0])
    assert np.allclose(client.to_model(pixels, (0.0, 255.0)), pixels)
    assert np.allclose(client.to_pixels(np.array([-0.1, 0.5, 1.2]), (0.0, 1.0)), [0.0, 127.5, 255.0])
    assert np.allclose(client.to_pixels(np.array([-3.0, 300.0]), (0.0, 255.0)), [0.0, 255.0])


def test_the_photos_are_several_tiles_large_and_fit_the_input_multiple():
    for patch_size, multiple in ((64, 1), (48, 4), (32, 2)):
        for photo in client.photos(patch_size, multiple):
            _, h, w, c = photo.pixels.shape
            assert c == 3 and h % multiple == 0 and w % multiple == 0
            assert w > 2 * patch_size and h > patch_size
            assert 0 <= photo.pixels.min() and photo.pixels.max() <= 255 and photo.pixels.std() > 20


def _result(**fields):
    base = {"client": "upscaler 1.0.0", "runtime": "upscalerjs-webgl", "patch_size": 64, "padding": 2,
            "photos": ["chelsea-160x96"], "gate": {"metric": "psnr", "threshold": 40.0}, "pass": False,
            "error": None, "source": {"psnr_db": 38.2}, "seam": {"psnr_db": 17.9, "where": "column 487 of x"}}
    return {**base, **fields}


def test_a_failed_check_says_what_to_do():
    assert client.failed(_result(**{"pass": True})) == []
    [line] = client.failed(_result(smallest_passing_padding=6))
    assert "17.9 dB, at column 487" in line and line.endswith("set padding = 6 in the recipe.")
    [line] = client.failed(_result(smallest_passing_padding=None))
    assert line.endswith("no padding below 32 hides the seams: raise patch_size.")
    [line] = client.failed(_result())
    assert "the artifact is at fault, not the tiling" in line
    [line] = client.failed(_result(error="Kernel failed"))
    assert line.endswith("FAILED: Kernel failed")
