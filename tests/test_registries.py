"""The registries every stage reads: precisions, targets and runtimes, and
the CLI choices made from them. Unit tests: nothing converts here."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from converter import targets
from converter.backends.registry import RUNTIMES
from converter.cli import cli
from converter.core import precisions


def option(command: str, name: str):
    return next(p for p in cli.commands[command].params if p.name == name)


def test_every_target_writes_only_registered_precisions_in_registry_order():
    order = [p.name for p in precisions.PRECISIONS]
    for target in targets.TARGETS:
        assert set(target.precisions) <= set(order), target.name
    for fmt in targets.FORMATS:
        chosen = targets.precisions_of(fmt)
        assert list(chosen) == sorted(chosen, key=order.index)
    assert targets.precisions_of("onnx") == ("float32", "float16", "uint8", "int8")
    assert targets.precisions_of("tfjs") == ("float32", "float16", "uint16", "uint8")


def test_defaults_and_gates_come_from_the_precision_registry():
    assert precisions.DEFAULT == ("float32", "float16", "uint8")
    assert option("convert", "precisions").default == ",".join(precisions.DEFAULT)
    assert precisions.DEFAULT_GATES["float32"].describe() == "<= 0.0001 x range"
    assert precisions.DEFAULT_GATES["uint8"].describe() == ">= 40 dB"
    assert set(precisions.DEFAULT_GATES) == set(precisions.BY_NAME)


def test_cli_choices_are_the_registries():
    assert option("convert", "formats").default == ",".join(targets.DEFAULT_FORMATS) == "tfjs,onnx"
    assert list(option("convert", "onnx_layout").type.choices) == ["nhwc", "nchw"]
    assert (option("convert", "opset").type.min, option("convert", "opset").type.max) == (13, 18)


def test_every_runtime_a_target_names_is_registered():
    for target in targets.TARGETS:
        assert set(target.runtimes) | set(target.browser_runtimes) <= set(RUNTIMES), target.name


def emitter(**record):
    return SimpleNamespace(record=record)


def test_records_reach_the_manifest_with_declared_defaults():
    assert targets.records([]) == {"custom_layers_js": None, "onnx_exporter": None}
    merged = targets.records([emitter(onnx_exporter="direct"), emitter(tfjs_graph_from="onnx")])
    assert merged == {"custom_layers_js": None, "onnx_exporter": "direct", "tfjs_graph_from": "onnx"}


def test_two_emitters_recording_one_key_differently_is_a_bug():
    assert targets.records([emitter(onnx_exporter="a"), emitter(onnx_exporter="a")])["onnx_exporter"] == "a"
    with pytest.raises(AssertionError, match="onnx_exporter"):
        targets.records([emitter(onnx_exporter="a"), emitter(onnx_exporter="b")])


def test_every_onnx_precision_but_the_export_itself_has_one_quantizer():
    from converter.quantizers import BY_PRECISION, QUANTIZERS
    from converter.targets.onnx import ONNX

    assert set(BY_PRECISION) == set(ONNX.precisions) - {"float32"} and len(QUANTIZERS) == len(BY_PRECISION)


def test_registries_hold_their_entries_not_module_names():
    # spandrel's style: an object per entry holding what it calls, one ordered registry per kind.
    from converter import architectures, sources
    from converter.backends.registry import host_class

    assert all(isinstance(t.emitter, type) for t in targets.TARGETS)
    assert all(callable(r.for_artifact) and isinstance(r.host, type) for r in RUNTIMES.values())
    assert host_class("chromium").__name__ == "ChromiumHost" and host_class("tfjs").__name__ == "NodeHost"
    assert all(callable(reader.describe) for reader in sources.READERS)
    assert list(architectures.FAMILIES) == ["rrdn", "rdn"]
    assert {fmt for reader in sources.READERS for fmt in reader.formats} == set(sources.FORMAT_TITLES)
