"""Format detection reads content, not names; bad files fail with one clear line."""

import shutil

import pytest
from conftest import ALL_SOURCES, assert_clean_error, run_cli

from converter.core.errors import BadInput
from converter.sources import describe, detect

EXPECTED = {
    "rrdn_keras2.h5": detect.KERAS2_H5,
    "rrdn_keras3.keras": detect.KERAS3_ARCHIVE,
    "rrdn_keras3.h5": detect.KERAS3_H5,
    "rrdn_savedmodel": detect.SAVEDMODEL,
    "rrdn_tfjs": detect.TFJS_LAYERS,
}


@pytest.mark.parametrize("name, fmt", EXPECTED.items())
def test_format_is_read_from_content(fixtures_dir, name, fmt):
    assert describe(fixtures_dir / name).format == fmt


@pytest.mark.parametrize("name, disguise", [("rrdn_keras3.keras", "model.h5"), ("rrdn_keras2.h5", "model.keras"),
                                            ("rrdn_keras3.h5", "weights.bin")])
def test_a_misleading_extension_does_not_fool_detection(fixtures_dir, tmp_path, name, disguise):
    copy = tmp_path / disguise
    shutil.copy(fixtures_dir / name, copy)
    assert describe(copy).format == EXPECTED[name]


def test_model_json_path_means_its_folder(fixtures_dir):
    assert describe(fixtures_dir / "rrdn_tfjs" / "model.json").format == detect.TFJS_LAYERS


def _written(path, data: bytes):
    path.write_bytes(data)
    return path


def _folder(path):
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: p / "missing.h5", "no such file"),
        (lambda p: _written(p / "empty.h5", b""), "empty"),
        (lambda p: _written(p / "notes.txt", b"hello"), "not a model format"),
        (lambda p: _written(p / "fake.keras", b"PK\x03\x04garbage"), "damaged zip"),
        (lambda p: _folder(p / "empty_dir"), "holds no model"),
    ],
)
def test_bad_paths_are_refused(tmp_path, make, fragment):
    with pytest.raises(BadInput, match=fragment):
        describe(make(tmp_path))


def test_a_truncated_h5_is_refused_with_advice(fixtures_dir, tmp_path):
    data = (fixtures_dir / "rrdn_keras2.h5").read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 3])
    result = run_cli("inspect", truncated)
    assert_clean_error(result, 2, str(truncated))


@pytest.mark.parametrize("name", ALL_SOURCES)
def test_inspect_reports_every_fixture(fixtures_dir, name):
    import json

    result = run_cli("inspect", fixtures_dir / name, "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["scale"] == (4 if name.startswith("rrdn") else 2)
    assert facts["params"] in (18316, 53759, None)
    assert "functional_to_model" in [f["name"] for f in facts["fixes"]]
    if name.startswith("rrdn"):
        plain = {c.rsplit(">", 1)[-1] for c in facts["custom_layers"]}
        assert "MultiplyBeta" in plain and any(c.startswith("PixelShuffle") for c in plain)


def test_one_rule_measures_the_scale_of_keras_and_onnx_sources():
    from converter.core.errors import BadInput
    from converter.forms.keras_model import integer_upscale

    assert integer_upscale((16, 12), (64, 48)) == 4 and integer_upscale((16, 16), (16, 16)) == 1
    for out in ((32, 48), (24, 24), (0, 0), None):  # uneven, fractional, empty, not an image
        with pytest.raises(BadInput, match="not an integer upscale"):
            integer_upscale((16, 12), out)
