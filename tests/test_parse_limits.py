"""Parsers that cannot recurse to death (issue 24): a source nested far
deeper than any model's config, or past protobuf's recursion limit, is one
clear refusal (exit 2) found in a linear scan, never a RecursionError (exit
70); genuine configs nest a dozen levels and still parse."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import ALL_SOURCES, assert_clean_error, run_cli_measured

from converter.core.errors import BadInput
from converter.sources import declared, describe, safe_json

pytestmark = pytest.mark.slow

DEEP = 200_000
# Refusals happen before TensorFlow loads: a fraction of a second and well
# under 100 MiB. The ceilings only tell a refusal from a hang or a bomb.
SECONDS = 60
PEAK_CEILING = 1 << 30


def _deep_config(document: dict) -> str:
    """`document` (a model.json, config.json or model_config) as JSON with a
    list 200,000 deep in its first layer's config: a genuine config around a
    nesting no model has, in 400 KB."""
    model = document.get("modelTopology", document)
    model = model.get("model_config", model)
    model["config"]["layers"][0]["config"]["deep"] = "@DEEP@"
    return json.dumps(document).replace('"@DEEP@"', "[" * DEEP + "]" * DEEP)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + _varint(len(payload)) + payload


def _deep_onnx(levels: int) -> bytes:
    """A ModelProto whose graph is an If whose then_branch is an If... `levels`
    deep, written field by field (protobuf itself will not build one past its
    recursion limit): each level nests three messages."""
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8]).SerializeToString()
    result = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8]).SerializeToString()
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])]).SerializeToString()
    for _ in range(levels):
        attribute = _field(0x0A, b"then_branch") + _field(0x32, graph) + b"\xa0\x01\x05"  # type GRAPH
        node = _field(0x0A, b"x") + _field(0x12, b"y") + _field(0x22, b"If") + _field(0x2A, attribute)
        graph = _field(0x0A, node) + _field(0x12, b"g") + _field(0x62, result)
    graph += _field(0x5A, image)
    return b"\x08\x08" + _field(0x3A, graph) + _field(0x42, helper.make_opsetid("", 17).SerializeToString())


@pytest.fixture(scope="module")
def deep_sources(tmp_path_factory, fixtures_dir) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("deep")
    sources = {}

    tfjs = sources["tfjs"] = folder / "tfjs"
    shutil.copytree(fixtures_dir / "rrdn_tfjs", tfjs)
    document = json.loads((tfjs / "model.json").read_text())
    (tfjs / "model.json").write_text(_deep_config(document))

    keras = sources["keras"] = folder / "deep.keras"
    with zipfile.ZipFile(fixtures_dir / "rrdn_keras3.keras") as original, \
            zipfile.ZipFile(keras, "w", zipfile.ZIP_DEFLATED) as copy:
        for name in original.namelist():
            data = original.read(name)
            copy.writestr(name, _deep_config(json.loads(data)) if name == "config.json" else data)

    h5 = sources["h5"] = folder / "deep.h5"
    shutil.copy(fixtures_dir / "rrdn_keras2.h5", h5)
    with h5py.File(h5, "r+") as handle:
        handle.attrs["model_config"] = _deep_config(json.loads(handle.attrs["model_config"]))

    names = sources["h5-names"] = folder / "many-names.h5"  # the weights, and 300,001 layer names in 300 KB
    with h5py.File(fixtures_dir / "rrdn-C2-D2-G8-G08-T2-x4_weights.hdf5") as original, \
            h5py.File(names, "w", libver="latest") as copy:  # "latest": attributes over 64 KiB
        for key in original:
            original.copy(original[key], copy)
        copy.attrs.update(original.attrs)
        copy.attrs["layer_names"] = np.full(300_001, b"x", dtype="S1")

    onnx = sources["onnx"] = folder / "deep.onnx"
    onnx.write_bytes(_deep_onnx(400))
    return sources


# The list sits 6-7 levels down the config, so the depth reported is 2000xx.
CASES = {
    "tfjs": ("model.json nests 2000", "levels deep (limit 256)"),
    "keras": ("config.json nests 2000", "levels deep (limit 256)"),
    "h5": ("the model_config attribute nests 2000", "levels deep (limit 256)"),
    "h5-names": ("HDF5 attribute layer_names lists 300001 items",),
    "onnx": ("deep.onnx: not a readable ONNX model",),
}


def test_deep_sources_are_tiny_on_disk(deep_sources):
    for name, source in deep_sources.items():
        size = sum(p.stat().st_size for p in source.rglob("*")) if source.is_dir() else source.stat().st_size
        assert size < 2 << 20, (name, size)


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.lstat().st_mtime for p in folder.rglob("*")}


@pytest.mark.parametrize("name", CASES)
def test_a_deeply_nested_source_is_refused_cleanly(deep_sources, tmp_path, name):
    out = tmp_path / "out"
    before = _snapshot(tmp_path), _snapshot(deep_sources[name].parent)
    start = time.monotonic()
    result, peak = run_cli_measured("convert", deep_sources[name], "-o", out, cwd=tmp_path, timeout=SECONDS * 2)
    elapsed = time.monotonic() - start
    assert_clean_error(result, 2, *CASES[name])
    assert elapsed < SECONDS, f"{elapsed:.1f} s"
    assert peak < PEAK_CEILING, f"peak {peak / 2**20:.0f} MiB"
    assert not out.exists() and not out.with_name("out.failed").exists()
    assert (_snapshot(tmp_path), _snapshot(deep_sources[name].parent)) == before  # nothing written, staging included


# --- the loader itself ----------------------------------------------------------------------------

def _true_depth(value) -> int:
    """Nesting of a parsed value, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _genuine_configs(folder: Path) -> dict[str, str]:
    """Every JSON text the fixtures hold (SavedModel metadata is read by describe)."""
    texts = {}
    for path in sorted(folder.glob("*/model.json")):
        texts[str(path)] = path.read_text()
    for path in sorted(folder.glob("*.keras")):
        with zipfile.ZipFile(path) as archive:
            texts.update({f"{path}:{name}": archive.read(name).decode() for name in ("config.json", "metadata.json")})
    for path in sorted(folder.glob("*.h5")):
        with h5py.File(path) as handle:
            if "model_config" in handle.attrs:
                texts[f"{path}:model_config"] = handle.attrs["model_config"]
    return texts


def test_genuine_configs_parse_far_below_the_limit(fixtures_dir):
    texts = _genuine_configs(fixtures_dir)
    assert len(texts) >= 12  # 3 model.json, 2 .keras x 2 members, 5 model_config attributes
    for name, text in texts.items():
        value = safe_json.loads(text, name, "config")
        assert value == json.loads(text), name
        assert safe_json.depth(text) == _true_depth(value) <= 12, name  # measured: 1 to 11
    for name in ALL_SOURCES:  # through the format modules, SavedModel metadata included
        assert isinstance(describe(fixtures_dir / name).topology, dict), name


def test_the_scan_does_not_recurse():
    start = time.monotonic()
    with pytest.raises(BadInput, match="nests 1000000 levels deep"):
        safe_json.loads("[" * 1_000_000 + "]" * 1_000_000, "x.json", "x.json")
    with pytest.raises(BadInput, match="nests 1000000 levels deep"):
        safe_json.loads("{\"a\":" * 1_000_000, "x.json", "x.json")  # unclosed: the parser would recurse as deep
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("text", [
    '["[[[[", "]]", "{"]',  # brackets in strings do not count
    r'["\"[[", "\\", "\\\"[", [["\\\\"]]]',  # escaped quotes and backslashes
    '{"é[": ["ü", {"k": [1, 2.5e3, true, null]}], "": ""}',
    '"[[["',
    "[[[]], [[[[]]]], {}]",
    "3",
])
def test_the_scan_measures_what_the_parser_nests(text):
    assert safe_json.depth(text) == _true_depth(json.loads(text))


def test_the_scan_is_linear_on_a_large_config(fixtures_dir):
    """20 MB of model.json (the fixture's layers repeated): measured 0.08-0.2 s;
    the bound only catches a quadratic scan."""
    document = json.loads((fixtures_dir / "rrdn_tfjs" / "model.json").read_text())
    model = document["modelTopology"]["model_config"]["config"]
    model["layers"] = model["layers"] * (20_000_000 // len(json.dumps(model["layers"])) + 1)
    text = json.dumps(document)
    start = time.monotonic()
    assert safe_json.depth(text) == 10
    assert time.monotonic() - start < 5
    assert len(text) >= 20_000_000


def test_invalid_or_oversized_json_is_one_line():
    with pytest.raises(BadInput, match=r"^x.json is not valid JSON \(Expecting ',' delimiter: line 1"):
        safe_json.loads('[1 2]', "x.json", "x.json")
    with pytest.raises(BadInput, match="not valid JSON"):
        safe_json.loads(b'["\xff"]', "x.json", "x.json")
    with pytest.raises(BadInput, match="x.json holds 1.0 KiB of JSON; a model's is at most 100 B"):
        safe_json.loads("[" + " " * 1022 + "]", "x.json", "x.json", max_bytes=100)


def test_a_recursion_error_is_still_a_refusal():
    with pytest.raises(BadInput, match="nests too deep to parse"):
        safe_json.loads("[" * 100_000 + "]" * 100_000, "x.json", "x.json", max_depth=10**9)


def test_hdf5_attributes_are_sized_before_they_are_read(tmp_path, monkeypatch):
    path = tmp_path / "attrs.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = np.bytes_(b"{}" * 1000)  # fixed length: its size is declared
        handle.attrs["numbers"] = np.arange(10)
        ragged = np.empty(1, dtype=h5py.vlen_dtype(np.int64))
        ragged[0] = np.arange(3)
        handle.attrs["ragged"] = ragged
    monkeypatch.setattr(declared, "MAX_JSON_BYTES", 1000)
    with h5py.File(path) as handle:
        with pytest.raises(BadInput, match="HDF5 attribute model_config declares 2.0 KiB"):
            declared.hdf5_attribute(path, handle.attrs, "model_config")
        with pytest.raises(BadInput, match="variable-length sequences"):
            declared.hdf5_attribute(path, handle.attrs, "ragged")
        assert declared.hdf5_attribute(path, handle.attrs, "numbers") == list(range(10))
        assert declared.hdf5_attribute(path, handle.attrs, "absent", []) == []


def test_a_model_config_that_is_not_text_is_bad_input(fixtures_dir, tmp_path):
    copy = tmp_path / "model.h5"
    shutil.copy(fixtures_dir / "rrdn_keras2.h5", copy)
    with h5py.File(copy, "r+") as handle:
        del handle.attrs["model_config"]
        handle.attrs["model_config"] = np.arange(4)
    with pytest.raises(BadInput, match="the model_config attribute is not text"):
        describe(copy)


def test_onnx_nesting_within_protobufs_limit_still_loads(tmp_path):
    """30 If levels (90 nested messages) parse; 400 are refused (above)."""
    from converter.sources.onnx_import import graph

    path = tmp_path / "nested.onnx"
    path.write_bytes(_deep_onnx(30))
    assert graph.parse(path).graph.node[0].op_type == "If"
    path.write_bytes(_deep_onnx(40))
    with pytest.raises(BadInput, match="not a readable ONNX model"):
        graph.parse(path)
