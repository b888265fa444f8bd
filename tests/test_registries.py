"""The registries every stage reads: precisions, targets and runtimes, and
the CLI choices made from them. Unit tests: nothing converts here."""

from __future__ import annotations

import sys
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
    assert set(precisions.DEFAULT_GATES) == set(precisions.PRECISIONS.names())


def test_cli_choices_are_the_registries():
    assert option("convert", "formats").default == ",".join(targets.DEFAULT_FORMATS) == "tfjs,onnx"
    assert list(option("convert", "onnx_layout").type.choices) == ["nhwc", "nchw"]
    assert (option("convert", "opset").type.min, option("convert", "opset").type.max) == (13, 18)


def test_every_runtime_a_target_names_is_registered():
    for target in targets.TARGETS:
        assert set(target.runtimes) | set(target.browser_runtimes) <= set(RUNTIMES.names()), target.name


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
    from converter.quantizers import QUANTIZERS

    for target in targets.TARGETS:
        if target.quantizers is not None:  # a target's every precision but float32 has its quantizer
            assert all(QUANTIZERS.of(target.quantizers, p) for p in target.precisions if p != "float32")
    assert [q.name for q in QUANTIZERS] == ["onnx:float16", "onnx:uint8", "onnx:int8"]


def test_registries_hold_their_entries_not_module_names():
    # spandrel's style: an object per entry holding what it calls, one ordered registry per kind.
    from converter import architectures, sources
    from converter.backends.registry import host_class

    assert all(isinstance(t.emitter, type) for t in targets.TARGETS)
    assert all(callable(r.for_artifact) and isinstance(r.host, type) for r in RUNTIMES)
    assert host_class("chromium").__name__ == "ChromiumHost" and host_class("tfjs").__name__ == "NodeHost"
    assert all(callable(reader.describe) for reader in sources.READERS)
    assert architectures.FAMILIES.names() == ("rrdn", "rdn")
    assert {fmt for reader in sources.READERS for fmt in reader.formats} == set(sources.FORMAT_TITLES)


def test_one_registry_class_names_orders_and_refuses_duplicates():
    from converter.core.registry import DuplicateEntry, Registry

    entries = Registry("thing", (SimpleNamespace(name="a"), SimpleNamespace(name="c")))
    entries.add(SimpleNamespace(name="b"), before="c")
    assert entries.names() == ("a", "b", "c") and [e.name for e in entries] == ["a", "b", "c"]
    with pytest.raises(DuplicateEntry, match="two thing entries are named 'a'"):
        entries.add(SimpleNamespace(name="a"))
    with pytest.raises(DuplicateEntry):
        Registry("thing", (SimpleNamespace(name="x"), SimpleNamespace(name="x")))
    with pytest.raises(DuplicateEntry):  # an op handled twice: the later handler never silently wins
        entries.put("b", object())
    with pytest.raises(KeyError, match="no thing named 'z'"):
        entries["z"]
    assert entries.names() == ("a", "b", "c")  # a refused entry leaves the registry as it was


def test_every_registry_is_one_class():
    from converter import architectures, passes, sources  # noqa: F401 - the packages whose registries are read
    from converter.core.registry import Registry
    from converter.emitters import onnx_direct, onnx_to_tf
    from converter.passes import fixes, optimize
    from converter.quantizers import QUANTIZERS
    from converter.sources.onnx_import import translate
    from converter.zoo import families

    for registry in (targets.TARGETS, RUNTIMES, precisions.PRECISIONS, QUANTIZERS, sources.READERS,
                     architectures.FAMILIES, fixes.FIXES, fixes.ONNX_FIXES, optimize.KERAS_PASSES,
                     optimize.ONNX_PASSES, onnx_direct.HANDLERS, onnx_to_tf.HANDLERS, translate.OP_HANDLERS,
                     families.CONVERTED):
        assert isinstance(registry, Registry), registry


def test_pass_names_are_declared_not_taken_from_file_names():
    from converter.passes import fixes, optimize

    for registry in (fixes.FIXES, fixes.ONNX_FIXES, optimize.KERAS_PASSES, optimize.ONNX_PASSES):
        for step in registry:
            module = sys.modules[step.run.__module__]
            assert module.NAME == step.name  # renaming the file would not rename a --no-fix value


def test_the_options_targets_declare_reach_the_run():
    from converter.pipeline.convert import ConvertOptions

    args = ["model.h5", "-o", "out", "--tfjs-model", "graph", "--opset", "15", "--onnx-layout", "nchw",
            "--tfjs-backend", "cpu", "--tfjs-free-size"]
    params = cli.commands["convert"].make_context("convert", args).params
    assert {option.name for option in targets.cli_options()} <= set(params)  # the CLI takes them from the targets
    options = ConvertOptions.from_cli(params, {})
    assert (options.tfjs_models, options.opset, options.onnx_layout, options.backend, options.tfjs_free_size) == (
        ("graph",), 15, "nchw", "cpu", True)
    assert options.target_options == {}  # today's targets' options each have their field


def test_nothing_outside_targets_compares_a_target_name():
    """A target's facts are its own: no module outside targets/ decides
    anything by comparing a name to a target's (or its --format's)."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "converter"
    names = set(targets.TARGETS.names()) | set(targets.FORMATS)
    found = []
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] == "targets":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                if any(isinstance(o, ast.Constant) and o.value in names for o in operands):
                    found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert found == []
