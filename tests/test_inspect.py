"""`srconvert inspect` describes every source `convert` takes, the way
convert sees it: ONNX graphs from the graph itself (ops, weights, scale,
input multiple, the Keras rebuild's coverage, the plan's verdicts), without
the Keras translation having to succeed."""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path

import pytest
from conftest import ROOT, assert_clean_error, run_cli

ONNX_DIR = ROOT / "fixtures" / "onnx"
ARCHITECTURES = ONNX_DIR / "architectures"

# Windowed transformers: the Keras rebuild lacks these ops, their graphs read
# their input's size, and the probe finds the smallest multiple that runs.
# The windowed transformers: what the Keras rebuild lacks, the size multiple
# measured, and whether --tfjs-free-size can write their size arithmetic as
# TF.js shape ops (their TF.js graph is built at 64x64 by default).
WINDOWED = {
    "hat.onnx": {"lacks": ["Erf", "GlobalAveragePool", "LayerNormalization", "MatMul", "Not", "ScatterND", "Softmax"],
                 "multiple": 4, "free": False},
    "swinir.onnx": {"lacks": ["Erf", "LayerNormalization", "MatMul", "Not", "ScatterND", "Softmax"], "multiple": 4,
                    "free": True},
    "dat.onnx": {"lacks": ["Erf", "Gemm", "GlobalAveragePool", "LayerNormalization", "MatMul", "Mod", "ReduceL2",
                           "Softmax"], "multiple": 1, "free": True},
}
FLOAT_TYPES = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def graph_of(path: Path):
    import onnx

    return onnx.load(str(path))  # external data too (the dynamo fixtures keep their weights beside)


def initializer_params(path: Path) -> int:
    """The graph's weights, counted from its initializers independently of srconvert."""
    return sum(math.prod(t.dims) for t in graph_of(path).graph.initializer if t.data_type in FLOAT_TYPES)


def op_counts(path: Path) -> dict[str, int]:
    return dict(collections.Counter(node.op_type for node in graph_of(path).graph.node))


def inspect_json(path: Path) -> dict:
    result = run_cli("inspect", path, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def inspect_text(path: Path) -> str:
    result = run_cli("inspect", path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def assert_text_shows(text: str, facts: dict) -> None:
    """Every fact `--json` gives is in the text too."""
    assert f"{facts['params']:,}" in text if facts["params"] is not None else "params            unknown" in text
    assert f"scale             x{facts['scale']}" in text
    assert f"input shape       {facts['input_shape']}" in text
    assert f"input multiple    {facts['input_multiple']} " in text
    assert f"input range       {facts['input_range']} ({facts['input_range_origin']}: " in text
    assert f"TF.js model       {', '.join(facts['tfjs_models'])}" in text
    for fmt, verdict in facts["convert"].items():
        line = next(line for line in text.splitlines() if line.strip().startswith(f"convert {fmt} "))
        if "refused" in verdict:
            assert verdict["refused"] in line and verdict["hint"] in line
        else:
            assert all(t["target"] in line for t in verdict["targets"])
            assert verdict["input_size"] is None or verdict["input_size"] in line
    if "ops" in facts:
        assert f"{facts['nodes']} nodes: " in text
        assert all(f"{op} x{count}" in text for op, count in facts["ops"].items())
        assert ", ".join(facts["rebuild_lacks"]) in text
        assert facts["suggested_size"] is None or f"e.g. {facts['suggested_size']}" in text
        assert facts["producer"] in text
    if facts["layer_classes"] is None:
        assert f"Keras facts       none (layers, custom layers, fixes): {facts['keras_facts_unavailable']}" in text
    else:
        assert all(f"{name} x{count}" in text for name, count in facts["layer_classes"].items())
        assert all(f"{fix['name']} ({fix['changes']})" in text for fix in facts["fixes"])
        assert all(layer in text for layer in facts["custom_layers"])


@pytest.mark.parametrize("name", sorted(WINDOWED))
def test_a_windowed_transformer_is_described_from_its_graph(name):
    path = ARCHITECTURES / name
    facts = inspect_json(path)
    expected = WINDOWED[name]
    assert facts["format"] == "onnx" and facts["scale"] == 2
    assert facts["params"] == initializer_params(path)
    assert facts["ops"] == op_counts(path) and facts["nodes"] == sum(facts["ops"].values())
    assert facts["input_shape"] == [None, None, None, 3] and facts["input_multiple"] == expected["multiple"]
    # The rebuild lacks ops, so no layers model: a graph model, at the suggested size.
    assert facts["keras_rebuild"] is False and facts["rebuild_lacks"] == expected["lacks"]
    assert facts["tfjs_models"] == ["graph"]
    assert facts["computes_from_size"] is True and facts["suggested_size"] == "64x64"
    assert facts["input_size"] is None and facts["exported_size"] is None
    assert bool(facts["free_size_blockers"]) != expected["free"]
    assert facts["convert"]["tfjs"] == {"targets": [{"target": "tfjs-graph", "from": "onnx"}], "input_size": "64x64"}
    assert facts["convert"]["onnx"] == {"targets": [{"target": "onnx", "from": "onnx"}], "input_size": None}
    # No Keras translation: its facts are absent, and why is said in one line.
    assert facts["layer_classes"] is None and facts["fixes"] is None
    assert facts["keras_facts_unavailable"] == f"the Keras rebuild lacks {', '.join(expected['lacks'])}"
    assert (facts["input_range"], facts["input_range_origin"]) == ("0:1", "assumed")  # random weights
    assert "neither range" in facts["input_range_reason"]

    text = inspect_text(path)
    assert_text_shows(text, facts)
    assert "no TF.js layers model, so convert makes a TF.js graph model" in text
    assert "size-dependent    yes (window partitions, masks or crops): its TF.js graph model is built for one " \
           "patch size, e.g. 64x64" in text
    if expected["free"]:
        assert "or with --tfjs-free-size computes those sizes at run time" in text
    else:
        assert "(at a free size, Gather" in text


@pytest.mark.parametrize("name, scale, multiple, custom", [
    ("compact_dynamo.onnx", 4, 1, "PixelShuffle"),  # weights in external data
    ("rrdb_x2_torchscript.onnx", 2, 2, "PixelUnshuffle"),
])
def test_a_free_size_graph_the_rebuild_covers_keeps_its_keras_facts(name, scale, multiple, custom):
    path = ONNX_DIR / name
    facts = inspect_json(path)
    assert facts["scale"] == scale and facts["input_multiple"] == multiple
    assert facts["params"] == initializer_params(path) and facts["ops"] == op_counts(path)
    assert facts["keras_rebuild"] is True and facts["rebuild_lacks"] == [] and facts["tfjs_models"] == ["layers"]
    assert facts["input_size"] is None and facts["input_shape"] == [None, None, None, 3]
    assert facts["convert"]["tfjs"] == {"targets": [{"target": "tfjs-layers", "from": "keras"}], "input_size": None}
    assert facts["keras_facts_unavailable"] is None
    assert custom in facts["custom_layers"] and "Conv2D" in facts["layer_classes"]
    assert "functional_to_model" in [fix["name"] for fix in facts["fixes"]]
    text = inspect_text(path)
    assert_text_shows(text, facts)
    assert "Keras rebuild     covers every op: a TF.js layers model is possible" in text


def test_a_graph_exported_at_one_size_says_so():
    path = ARCHITECTURES / "safmn.onnx"
    facts = inspect_json(path)
    assert facts["input_shape"] == [None, 16, 16, 3] and facts["exported_size"] == facts["input_size"] == "16x16"
    assert facts["keras_rebuild"] is False and facts["computes_from_size"] is False
    assert "fixed to 16x16 inputs and the Keras rebuild needs a free size" in facts["keras_facts_unavailable"]
    # The size is the graph's own: convert needs no --input-size for it.
    assert facts["convert"]["tfjs"] == {"targets": [{"target": "tfjs-graph", "from": "onnx"}], "input_size": None}
    assert_text_shows(inspect_text(path), facts)


def test_a_keras_source_gets_the_plans_verdicts_too(fixtures_dir):
    path = fixtures_dir / "rrdn_keras2.h5"
    facts = inspect_json(path)
    assert facts["format"] == "keras2-h5" and facts["scale"] == 4 and facts["params"] == 18316
    assert facts["input_multiple"] == 1 and facts["input_shape"] == [None, None, None, 3]
    assert facts["tfjs_models"] == ["layers"] and "ops" not in facts
    assert facts["convert"] == {"tfjs": {"targets": [{"target": "tfjs-layers", "from": "keras"}], "input_size": None},
                                "onnx": {"targets": [{"target": "onnx", "from": "keras"}], "input_size": None},
                                "transformersjs": {"targets": [{"target": "transformersjs", "from": "keras"}],
                                                   "input_size": None},
                                "ncnn": {"targets": [{"target": "ncnn", "from": "keras"}], "input_size": None}}
    assert any(name.endswith("PixelShuffle") or name.startswith("PixelShuffle") for name in facts["layer_classes"])
    text = inspect_text(path)
    assert_text_shows(text, facts)
    assert "Keras version     " in text and "convert tfjs      tfjs-layers from the Keras form" in text


def test_input_size_fixes_the_graph_as_convert_does():
    from converter.commands.inspection import inspect_source, render
    from converter.core.input_size import InputSize

    path = ARCHITECTURES / "swinir.onnx"
    facts = inspect_source(path, input_size=InputSize(32, 32))
    assert facts["input_shape"] == [None, 32, 32, 3] and facts["input_size"] == "32x32"
    assert facts["scale"] == 2 and facts["input_multiple"] == 1
    assert facts["convert"]["tfjs"] == {"targets": [{"target": "tfjs-graph", "from": "onnx"}], "input_size": "32x32"}
    # ONNX keeps every size the source takes: a size for it alone would fix nothing.
    assert facts["convert"]["onnx"]["refused"] == "--input-size 32x32 would fix nothing: ONNX takes every size the " \
                                                  "source takes"
    assert facts["ops"] == op_counts(path)  # the source's ops; the folded graph is convert's business
    text = render(facts)
    assert "fixed to 32x32 (--input-size" in text and "folded to constants at 32x32" in text
    assert "convert tfjs      tfjs-graph from the ONNX graph, at 32x32" in text
    json.dumps(facts)  # --json can print it


def test_input_size_errors_are_convert_s():
    from converter.commands.inspection import inspect_source
    from converter.core.errors import BadInput
    from converter.core.input_size import InputSize

    with pytest.raises(BadInput, match="exported for 16x16 inputs, not --input-size 64x64"):
        inspect_source(ARCHITECTURES / "safmn.onnx", input_size=InputSize(64, 64))
    with pytest.raises(BadInput, match="--input-size applies to ONNX and PyTorch sources"):
        inspect_source(ROOT / "fixtures" / "build" / "rrdn_keras2.h5", input_size=InputSize(64, 64))
    with pytest.raises(BadInput, match="cannot run the model at 17x17") as caught:
        inspect_source(ARCHITECTURES / "swinir.onnx", input_size=InputSize(17, 17))
    assert len(caught.value.lines()) <= 2 and caught.value.hint


def test_a_checkpoint_with_an_input_size_is_exported_and_its_graph_described(checkpoints_dir):
    from converter.commands.inspection import inspect_source, render
    from converter.core.input_size import InputSize

    plain = inspect_source(checkpoints_dir / "swinir.pth")
    assert plain["graph"] is None and "export" not in plain["architecture"]
    assert "--input-size HxW" in plain["graph_unavailable"] and plain["graph_unavailable"] in render(plain)

    facts = inspect_source(checkpoints_dir / "swinir.pth", input_size=InputSize(32, 32))
    graph = facts["graph"]
    assert facts["params"] == facts["architecture"]["parameters"] and "export" in facts["architecture"]
    assert graph["scale"] == facts["scale"] == 2 and graph["input_shape"] == [None, 32, 32, 3]
    assert graph["keras_rebuild"] is False and "LayerNormalization" in graph["rebuild_lacks"]
    assert graph["tfjs_models"] == ["graph"] and graph["computes_from_size"] is True
    assert graph["convert"]["tfjs"] == {"targets": [{"target": "tfjs-graph", "from": "onnx"}], "input_size": "32x32"}
    text = render(facts)
    assert "exported graph    by torch" in text and "convert tfjs    tfjs-graph from the ONNX graph, at 32x32" in text
    json.dumps(facts)


def test_a_truncated_onnx_is_a_clean_error(tmp_path):
    data = (ARCHITECTURES / "hat.onnx").read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 3])
    assert_clean_error(run_cli("inspect", truncated), 2, str(truncated), "not a readable ONNX model")
    assert_clean_error(run_cli("inspect", truncated, "--json"), 2, str(truncated))


def test_a_graph_onnxruntime_refuses_is_quoted_whole_words(tmp_path):
    """onnxruntime's message is long; it is shortened at a word, never mid-word."""
    import onnx
    import onnxruntime

    model = graph_of(ONNX_DIR / "compact_torchscript.onnx")
    next(n for n in model.graph.node if n.op_type == "Conv").op_type = "NoSuchOp" + "X" * 120
    broken = tmp_path / "broken.onnx"
    onnx.save(model, broken)
    with pytest.raises(Exception) as raised:
        onnxruntime.InferenceSession(str(broken), providers=["CPUExecutionProvider"])
    library_words = {word.rstrip(",;:") for word in str(raised.value).split()}

    result = run_cli("inspect", broken)
    assert_clean_error(result, 2, str(broken), "onnxruntime cannot load the model")
    first = result.stderr.splitlines()[0]
    assert first.endswith("…")
    last_word = first[:-1].rsplit(" ", 1)[-1]
    assert last_word in library_words, first


def test_where_the_keras_translation_fails_its_facts_give_way_to_one_line(monkeypatch):
    from converter.commands import inspection
    from converter.core.errors import BadInput

    def failing(info):
        raise BadInput("LayerNormalization node 'n': not supported on image tensors", path=info.path)

    monkeypatch.setattr(inspection, "topology_of", failing)
    facts = inspection.inspect_source(ONNX_DIR / "compact_torchscript.onnx")
    assert facts["keras_rebuild"] is True and facts["scale"] == 4 and facts["layer_classes"] is None
    assert facts["keras_facts_unavailable"] == ("the Keras rebuild fails: LayerNormalization node 'n': "
                                                "not supported on image tensors")
    assert facts["keras_facts_unavailable"] in inspection.render(facts)


def test_library_messages_are_cut_at_a_word():
    from converter.core.errors import first_line, one_line

    library = RuntimeError("Node (/layers.0/Reshape_6) Op (Reshape)\n  [ShapeInferenceError] Dimension could not be inferred")
    assert one_line(library, 63) == "Node (/layers.0/Reshape_6) Op (Reshape) [ShapeInferenceError]…"
    assert one_line(library, 50) == "Node (/layers.0/Reshape_6) Op (Reshape)…"
    assert first_line(library, 30) == "Node (/layers.0/Reshape_6) Op…"
    assert first_line(library) == "Node (/layers.0/Reshape_6) Op (Reshape)"
    assert one_line(RuntimeError("x" * 20), 10) == "x" * 9 + "…"  # one word longer than the limit
