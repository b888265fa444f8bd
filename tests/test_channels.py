"""Grayscale and RGBA networks (issue 45): OpenModelDB's manga and JPEG
ESRGANs map 1 channel to 1, its alpha-aware ones 4 to 4. The channel count
comes from the checkpoint; parity runs them on photos of as many channels
(grayscale, or RGBA with a cut-out's alpha); the formats whose runtime
feeds the network RGB (Upscayl, transformers.js's pipeline) are refused at
plan time while the others are written."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import assert_clean_error, run_cli

pytestmark = pytest.mark.slow

NETWORKS = {"esrgan-gray.pth": 1, "esrgan-rgba.pth": 4}  # fixtures/make_pytorch_fixtures.py


def _photo_inputs(bundle) -> list[np.ndarray]:
    """The photo inputs parity ran, as the self-check page stores them."""
    reference = json.loads((bundle / "check" / "reference.json").read_text())
    blob = (bundle / "check" / "reference.bin").read_bytes()
    return [np.frombuffer(blob, "<f4", math.prod(item["shape"]), item["offset"]).reshape(item["shape"])
            for item in reference["inputs"] if item["photo"]]


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_a_grayscale_and_an_rgba_network_convert_with_no_flags_and_pass_on_photos_of_their_channels(
        checkpoints_dir, tmp_path, name):
    channels = NETWORKS[name]
    out = tmp_path / "out"
    result = run_cli("convert", checkpoints_dir / name, "-o", out)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["input_channels"] == channels
    assert manifest["source"]["architecture"]["input_channels"] == channels
    assert manifest["source"]["architecture"]["output_channels"] == channels
    assert manifest["parity"]["pass"] is True
    runtimes = {r["runtime"] for a in manifest["artifacts"] for r in a["parity"]["results"]}
    assert runtimes == {"tfjs-wasm", "onnxruntime", "onnxruntime-web"}
    assert {(a["format"], a["precision"]) for a in manifest["artifacts"]} == {
        (f, p) for f in ("tfjs-layers", "onnx") for p in ("float32", "float16", "uint8")}
    for artifact in manifest["artifacts"]:
        if artifact["precision"] == "float32":
            assert all(r["max_abs"] < 1e-4 for r in artifact["parity"]["results"]), artifact["entry"]
    photos = _photo_inputs(out)
    assert photos, "parity ran on no photo"
    for photo in photos:
        assert photo.shape[-1] == channels and photo[..., 0].std() > 0.05  # a photo, not a flat field
        if channels == 4:  # a cut-out's alpha: transparent, opaque and a feathered edge between
            alpha = photo[..., 3]
            assert alpha.min() == 0.0 and alpha.max() == 1.0
            assert 0.1 < ((alpha > 0) & (alpha < 1)).mean() < 0.6


@pytest.mark.parametrize("fmt, label", [("ncnn", "NCNN"), ("transformersjs", "transformers.js")])
def test_a_format_whose_runtime_feeds_rgb_is_refused_for_a_grayscale_network_before_any_work(
        checkpoints_dir, tmp_path, fmt, label):
    out = tmp_path / "out"
    result = run_cli("convert", checkpoints_dir / "esrgan-gray.pth", "-o", out, "--format", fmt)
    assert_clean_error(result, 2, f"srconvert writes {label} for 3-channel networks; the model takes 1-channel",
                       f"leave {fmt} out of --format")
    assert not out.exists()


def test_channels_the_user_expects_are_held_against_what_the_checkpoint_states(checkpoints_dir, tmp_path):
    result = run_cli("convert", checkpoints_dir / "esrgan-rgba.pth", "-o", tmp_path / "out", "--channels", "3")
    assert_clean_error(result, 2, "the model takes 4-channel images, not 3 as --channels says",
                       "leave --channels out")
    assert not (tmp_path / "out").exists()
