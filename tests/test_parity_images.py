"""The parity photos: PNG and JPEG are read, a corrupt file is a clean error,
and a folder the user named that gives no usable photo is exit 2, not a
parity run on random tiles alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from converter.core.errors import EXIT_BAD_INPUT, BadInput
from converter.core.input_size import InputSize
from converter.core.photos import DEFAULT_IMAGES, photo_paths
from converter.parity import inputs

IMAGES = ROOT / "fixtures" / "images"
FREE = [None, None, None, 3]  # a model of any size, RGB
RANGE = (-1.0, 1.0)


def _jpeg(source: Path, target: Path, box: tuple[int, int, int, int] | None = None) -> Path:
    with Image.open(source) as image:
        (image.crop(box) if box else image).convert("RGB").save(target, "JPEG", quality=90)
    return target


def _decoded(path: Path, mode: str = "RGB") -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert(mode), dtype=np.float32) / 255.0


def _error(call) -> BadInput:
    with pytest.raises(BadInput) as caught:
        call()
    assert caught.value.exit_code == EXIT_BAD_INPUT
    return caught.value


def test_photo_paths_are_the_png_and_jpeg_files_in_any_case_sorted(tmp_path):
    for name in ("b.JPG", "a.png", "c.jpeg", "d.Jpeg", "e.PNG"):
        (tmp_path / name).write_bytes(b"")
    for name in ("notes.txt", "f.gif", "g.webp", ".hidden.png", "README"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    assert [p.name for p in photo_paths(tmp_path)] == ["a.png", "b.JPG", "c.jpeg", "d.Jpeg", "e.PNG"]
    assert photo_paths(tmp_path / "absent") == [] and photo_paths(None) == []


def test_a_folder_of_jpegs_only_gives_photos_that_are_those_jpegs_in_the_range(tmp_path):
    first = _jpeg(IMAGES / "coffee_rim.png", tmp_path / "coffee.jpg", (4, 2, 44, 34))
    second = _jpeg(IMAGES / "astronaut_face.png", tmp_path / "astronaut.JPEG")
    for required in (True, False):
        built = inputs.build(FREE, RANGE, tmp_path, required=required)
        photos = [p for p in built if p.is_photo]
        assert [p.name for p in photos] == ["astronaut", "coffee"]
        assert len([p for p in built if not p.is_photo]) == len(inputs.RANDOM_SIZES)
        for photo, path in zip(photos, (second, first)):
            expected = RANGE[0] + _decoded(path)[None] * (RANGE[1] - RANGE[0])
            assert photo.array.dtype == np.float32 and photo.array.shape == expected.shape
            np.testing.assert_allclose(photo.array, expected, rtol=0, atol=1e-6)
    inputs.check_folder(tmp_path)  # and the early check agrees


def test_a_png_and_a_jpeg_of_the_same_name_are_both_used_under_their_file_names(tmp_path):
    Image.open(IMAGES / "coffee_rim.png").save(tmp_path / "coffee.png")
    _jpeg(IMAGES / "coffee_rim.png", tmp_path / "coffee.jpg")
    names = [p.name for p in inputs.build(FREE, (0.0, 1.0), tmp_path, required=True) if p.is_photo]
    assert names == ["coffee.jpg", "coffee.png"]


def test_the_default_folder_gives_its_photos():
    photos = [p for p in inputs.build(FREE, (0.0, 1.0), DEFAULT_IMAGES) if p.is_photo]
    assert [p.name for p in photos] == [p.stem for p in sorted(IMAGES.glob("*.png"))]


def test_an_empty_folder_is_bad_input_when_named_and_random_tiles_only_when_not(tmp_path):
    (tmp_path / "notes.txt").write_text("no photos here")
    error = _error(lambda: inputs.build(FREE, RANGE, tmp_path, required=True))
    assert error.path == tmp_path
    assert "no PNG or JPEG photo" in error.message and "1 other file ignored" in error.message
    assert "PNG or JPEG photos" in error.hint
    assert _error(lambda: inputs.check_folder(tmp_path)).message == error.message
    built = inputs.build(FREE, RANGE, tmp_path)
    assert built and not any(p.is_photo for p in built) and len(built) == len(inputs.RANDOM_SIZES)


def test_a_missing_folder_is_bad_input_when_named_and_random_tiles_only_when_not(tmp_path):
    absent = tmp_path / "absent"
    assert _error(lambda: inputs.build(FREE, RANGE, absent, required=True)).path == absent
    assert "no such folder" in _error(lambda: inputs.check_folder(absent)).message
    assert not any(p.is_photo for p in inputs.build(FREE, RANGE, absent))
    # No folder at all: nothing to require.
    assert not any(p.is_photo for p in inputs.build(FREE, RANGE, None, required=True))


@pytest.mark.parametrize("required", [True, False])
def test_a_corrupt_png_is_bad_input_naming_it_not_skipped(tmp_path, required):
    Image.open(IMAGES / "coffee_rim.png").save(tmp_path / "a_good.png")
    data = (IMAGES / "rocket_gantry.png").read_bytes()
    corrupt = tmp_path / "b_corrupt.png"
    corrupt.write_bytes(data[: len(data) // 2])
    error = _error(lambda: inputs.build(FREE, RANGE, tmp_path, required=required))
    assert error.path == corrupt and "cannot decode" in error.message
    assert "Traceback" not in "\n".join(error.lines()) and len(error.lines()) == 2
    assert _error(lambda: inputs.check_folder(tmp_path)).path == corrupt


def test_a_file_that_is_no_image_at_all_is_bad_input_naming_it(tmp_path):
    (tmp_path / "photo.jpg").write_text("this is text, not a JPEG")
    error = _error(lambda: inputs.build(FREE, RANGE, tmp_path))
    assert error.path == tmp_path / "photo.jpg" and "cannot decode" in error.message


def test_photos_smaller_than_a_fixed_size_are_bad_input_when_the_folder_is_named(tmp_path):
    for name in ("astronaut_face", "coffee_rim", "rocket_gantry"):  # 64x48, 60x44, 36x52: none is 64x64
        _jpeg(IMAGES / f"{name}.png", tmp_path / f"{name}.jpg")
    fixed = [None, 64, 64, 3]
    error = _error(lambda: inputs.build(fixed, RANGE, tmp_path, required=True))
    assert error.path == tmp_path
    assert "none of its 3 photos fits a 64x64 fixed-size model" in error.message
    early = _error(lambda: inputs.check_folder(tmp_path, 3, InputSize(64, 64)))
    assert early.message == error.message
    assert _error(lambda: inputs.check_folder(tmp_path, input_size=(64, 64))).message == error.message
    built = inputs.build(fixed, RANGE, tmp_path)  # not named: one random tile, as before
    assert [p.is_photo for p in built] == [False] and built[0].array.shape == (1, 64, 64, 3)
    fits = [None, 40, 32, 3]  # every photo is at least 40 high and 32 wide: each cropped to it
    photos = [p for p in inputs.build(fits, RANGE, tmp_path, required=True) if p.is_photo]
    assert len(photos) == 3 and all(p.array.shape == (1, 40, 32, 3) for p in photos)
    inputs.check_folder(tmp_path, 3, InputSize(40, 32))


def test_one_photo_too_small_says_so(tmp_path):
    _jpeg(IMAGES / "rocket_gantry.png", tmp_path / "rocket.jpg")
    error = _error(lambda: inputs.build([None, 64, 64, 3], RANGE, tmp_path, required=True))
    assert error.message.startswith("its only photo does not fit a 64x64 fixed-size model")


def test_photos_are_read_in_the_models_channels_and_none_fits_a_count_no_image_has(tmp_path):
    _jpeg(IMAGES / "coffee_rim.png", tmp_path / "coffee.jpg")
    _jpeg(IMAGES / "astronaut_face.png", tmp_path / "astronaut.jpg")
    error = _error(lambda: inputs.build([None, None, None, 2], RANGE, tmp_path, required=True))
    assert "none of its 2 photos fits a model taking 2 channels" in error.message
    assert _error(lambda: inputs.check_folder(tmp_path, 2)).message == error.message
    assert not any(p.is_photo for p in inputs.build([None, None, None, 2], RANGE, tmp_path))
    gray = [p for p in inputs.build([None, None, None, 1], (0.0, 1.0), tmp_path, required=True) if p.is_photo]
    assert len(gray) == 2 and gray[0].array.shape[-1] == 1  # 1 channel: read as grayscale
    np.testing.assert_allclose(gray[0].array[0], _decoded(tmp_path / "astronaut.jpg", "L")[..., None], atol=1e-6)
    # 4 channels: the photo's colours, and a cut-out's alpha where the photo has none
    rgba = [p for p in inputs.build([None, None, None, 4], (0.0, 1.0), tmp_path, required=True) if p.is_photo]
    np.testing.assert_allclose(rgba[0].array[0, ..., :3], _decoded(tmp_path / "astronaut.jpg"), atol=1e-6)
    alpha = rgba[0].array[0, ..., 3]
    assert alpha.min() == 0.0 and alpha.max() == 1.0 and ((alpha > 0) & (alpha < 1)).any()
    # a photo with its own alpha keeps it
    with Image.open(tmp_path / "coffee.jpg") as image:
        own = np.linspace(0, 255, image.width, dtype=np.uint8)[None].repeat(image.height, 0)
        rgba_image = image.convert("RGBA")
        rgba_image.putalpha(Image.fromarray(own))
        rgba_image.save(tmp_path / "coffee.png")
    (tmp_path / "coffee.jpg").unlink()
    kept = {p.name: p for p in inputs.build([None, None, None, 4], (0.0, 1.0), tmp_path) if p.is_photo}["coffee"]
    np.testing.assert_allclose(kept.array[0, ..., 3], own / 255.0, atol=1e-6)


def test_a_patch_some_artifacts_are_fixed_to_adds_a_tile_and_every_photo_mirrored_out_to_it():
    free = inputs.build(FREE, RANGE, IMAGES)
    both = inputs.build(FREE, RANGE, IMAGES, also_at=InputSize(64, 80))
    assert [i.name for i in both[:len(free)]] == [i.name for i in free]  # the free inputs first, unchanged
    patch = both[len(free):]
    assert [i.name for i in patch] == ["random-80x64"] + [f"{i.name}-64x80" for i in free if i.is_photo]
    assert all(i.array.shape == (1, 64, 80, 3) and i.at_patch for i in patch)
    assert not any(i.at_patch for i in both[:len(free)])
    for item in patch[1:]:  # each photo, smaller than the patch, continues as its mirror image
        photo = next(i for i in free if i.name == item.name[:-len("-64x80")]).array
        h, w = photo.shape[1:3]
        assert h < 64 or w < 80
        np.testing.assert_array_equal(item.array[:, :h, :w], photo)
        if w < 80:
            np.testing.assert_array_equal(item.array[:, :h, w], photo[:, :, w - 1])
    # A model fixed already takes no second size.
    assert [i.name for i in inputs.build([None, 16, 16, 3], RANGE, IMAGES, also_at=InputSize(64, 80))] == [
        i.name for i in inputs.build([None, 16, 16, 3], RANGE, IMAGES)]


def test_an_artifact_runs_only_the_inputs_of_sizes_it_takes_and_fails_when_it_takes_none(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from converter.backends.onnxruntime.runner import OnnxRuntimeRunner
    from converter.core.input_size import Sizes
    from converter.parity.runs import run_inputs

    weight = numpy_helper.from_array(np.full((3, 3, 1, 1), 0.5, np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "m.onnx")
    parity = inputs.build(FREE, RANGE, IMAGES, also_at=InputSize(64, 80))
    runner = OnnxRuntimeRunner(tmp_path / "m.onnx", "nchw")
    every = run_inputs(runner, parity, Sizes(None, 1))  # a free artifact: its own inputs, not the patch's
    assert every.error is None and every.indices == [i for i, item in enumerate(parity) if not item.at_patch]
    assert len(every.indices) < len(parity)
    fixed = run_inputs(runner, parity, Sizes(InputSize(64, 80)))
    assert [parity[i].name for i in fixed.indices][0] == "random-80x64" and len(fixed.outputs) == len(fixed.indices)
    assert all(parity[i].array.shape[1:3] == (64, 80) for i in fixed.indices)
    none = run_inputs(runner, parity, Sizes(InputSize(7, 9)))
    assert none.outputs == [] and none.error == "no parity input is of a size it takes (7x9 only)"
