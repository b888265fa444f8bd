"""Today's PyTorch architectures, as spandrel implements them and users
export them (fixtures/onnx/architectures, made by make_onnx_fixtures.py):
`srconvert convert model.onnx -o out` with no flags makes an ONNX bundle
straight from each graph and a TF.js model (layers where the Keras rebuild
covers it, else a graph model through onnx_to_tf), in float32, float16 and
uint8, each recording the sizes it takes and passing parity in onnxruntime,
onnxruntime-web and TF.js at those sizes, against onnxruntime on the source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnx.reference
import pytest
from conftest import ROOT, assert_clean_error, run_cli
from onnx import TensorProto, helper, numpy_helper

from converter.core.input_size import InputSize, Sizes
from converter.forms import onnx_form
from converter.sources import describe

pytestmark = pytest.mark.slow

FIXTURES = ROOT / "fixtures" / "onnx" / "architectures"
# family -> (the TF.js model `convert` makes with no flags, the one size it is
# fixed to or None where it takes every size the source does). A layers model
# where the Keras rebuild covers the graph. A graph that reads its size gets
# its TF.js graph built at the suggested 64x64 (see plan.picked_size), its
# ONNX artifacts keeping every size. SAFMN's export is fixed at 16x16 already.
EXPECTED = {
    "esrgan": ("tfjs-layers", None), "compact": ("tfjs-layers", None), "span": ("tfjs-layers", None),
    "mosr": ("tfjs-graph", None), "safmn": ("tfjs-graph", "16x16"), "rcan": ("tfjs-graph", "64x64"),
    "plksr": ("tfjs-graph", "64x64"), "realplksr": ("tfjs-graph", "64x64"), "seemore": ("tfjs-graph", "64x64"),
    "omnisr": ("tfjs-graph", "64x64"), "swinir": ("tfjs-graph", "64x64"), "hat": ("tfjs-graph", "64x64"),
    "dat": ("tfjs-graph", "64x64"), "srformer": ("tfjs-graph", "64x64"), "rgt": ("tfjs-graph", "64x64"),
    "drct": ("tfjs-graph", "64x64"), "dctlsa": ("tfjs-graph", "64x64"), "craft": ("tfjs-graph", "64x64"),
}
# With --tfjs-free-size: every family that reads its size but HAT, whose
# overlapping-window unfold gathers at indices computed from the size.
FREE_TFJS = ("rcan", "plksr", "realplksr", "seemore", "omnisr", "swinir", "dat", "srformer", "rgt")
RUNTIMES = {"onnx": {"onnxruntime", "onnxruntime-web"}, "tfjs-graph": {"tfjs-wasm"}, "tfjs-layers": {"tfjs-wasm"}}


def test_every_committed_architecture_is_tested():
    assert sorted(p.stem for p in FIXTURES.glob("*.onnx")) == sorted(EXPECTED)


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_an_onnx_export_converts_with_no_flags_and_each_artifact_passes_at_the_sizes_it_takes(family, tmp_path):
    result = run_cli("convert", FIXTURES / f"{family}.onnx", "-o", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "o" / "manifest.json").read_text())
    tfjs, fixed = EXPECTED[family]
    assert document["onnx_exporter"] == "none (the source graph)" and document["model"]["scale"] == 2
    assert sorted((a["format"], a["precision"]) for a in document["artifacts"]) == sorted(
        (f, p) for f in (tfjs, "onnx") for p in ("float32", "float16", "uint8"))
    shapes = {i["name"]: tuple(i["shape"][1:3]) for i in document["parity"]["reference"]["inputs"]}
    patch = {i["name"] for i in document["parity"]["reference"]["inputs"] if i.get("at_patch")}
    sizes = {}
    for artifact in document["artifacts"]:
        taken = Sizes.from_dict(artifact["input_sizes"])
        sizes[artifact["format"]] = taken
        results = artifact["parity"]["results"]
        assert {r["runtime"] for r in results} == RUNTIMES[artifact["format"]] and all(r["pass"] for r in results)
        for run in results:  # each ran only, and every one of, the inputs of sizes it takes
            ran = run.get("inputs") or list(shapes)
            assert sorted(ran) == sorted(n for n, shape in shapes.items() if taken.takes(*shape)
                                         and (n not in patch or not taken.free))
            if taken.free:  # at two sizes at least, one of them not the TF.js patch
                assert len({shapes[name] for name in ran}) >= 2
                assert any(shapes[name] != (64, 64) for name in ran)
    source_free = family != "safmn"
    assert sizes["onnx"].free == source_free  # ONNX keeps every size the source takes
    assert document["model"]["input_size"] == fixed
    if fixed is None:
        assert sizes[tfjs] == sizes["onnx"]
    else:
        assert sizes[tfjs] == Sizes(InputSize.parse(fixed))
    if fixed is not None and source_free:  # built at the suggested size, said out loud
        assert f"its TF.js model is built at {fixed}" in result.stderr
        assert "fixed_input_size" in [o["name"] for o in document["optimizations"]]
        assert sizes["onnx"].takes(48, 32) and any(shape != (64, 64) for shape in shapes.values())


@pytest.mark.parametrize("family", FREE_TFJS)
def test_free_size_tfjs_graphs_take_every_size_the_source_takes(family, tmp_path):
    result = run_cli("convert", FIXTURES / f"{family}.onnx", "-o", tmp_path / "o", "--tfjs-free-size", "--format",
                     "tfjs", "--quantize", "float32,uint8")
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "o" / "manifest.json").read_text())
    source = onnx_form.OnnxForm(describe(FIXTURES / f"{family}.onnx")).sizes
    shapes = {i["name"]: tuple(i["shape"][1:3]) for i in document["parity"]["reference"]["inputs"]}
    assert document["model"]["input_size"] is None and "fixed_input_size" not in str(document["optimizations"])
    for artifact in document["artifacts"]:
        assert Sizes.from_dict(artifact["input_sizes"]) == source and source.free
        (run,) = artifact["parity"]["results"]
        assert run["pass"] and "inputs" not in run  # every parity input, at every size it has
    assert len({shape for shape in shapes.values()}) >= 3


def test_free_size_is_refused_where_the_graph_needs_a_constant_or_nothing_reads_the_size(tmp_path):
    hat = run_cli("convert", FIXTURES / "hat.onnx", "-o", tmp_path / "hat", "--tfjs-free-size")
    assert_clean_error(hat, 2, "cannot take a free size: Gather (/layers.0/residual_group/overlap_attn/unfold/Gather",
                       "leave --tfjs-free-size out")
    span = run_cli("convert", FIXTURES / "mosr.onnx", "-o", tmp_path / "mosr", "--tfjs-free-size")
    assert_clean_error(span, 2, "--tfjs-free-size would change nothing")
    both = run_cli("convert", FIXTURES / "rcan.onnx", "-o", tmp_path / "rcan", "--tfjs-free-size", "--input-size",
                   "32x32")
    assert_clean_error(both, 2, "--tfjs-free-size and --input-size ask for opposite things")
    assert not any((tmp_path / name).exists() for name in ("hat", "mosr", "rcan"))


def test_an_input_size_fixes_only_the_tfjs_graph_and_onnx_keeps_free_sizes(tmp_path):
    import onnxruntime

    result = run_cli("convert", FIXTURES / "swinir.onnx", "-o", tmp_path / "o", "--input-size", "32x32",
                     "--quantize", "float32")
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "o" / "manifest.json").read_text())
    taken = {a["format"]: Sizes.from_dict(a["input_sizes"]) for a in document["artifacts"]}
    assert taken["tfjs-graph"] == Sizes(InputSize(32, 32)) and taken["onnx"].free
    assert document["model"]["input_size"] == "32x32"
    session = onnxruntime.InferenceSession(str(tmp_path / "o" / "onnx" / "float32" / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    for height, width in ((48, 32), (64, 48)):  # sizes the fixed export refused ("Expected: 64")
        x = np.random.default_rng(height).random((1, 3, height, width), dtype=np.float32)
        assert session.run(None, {session.get_inputs()[0].name: x})[0].shape == (1, 3, 2 * height, 2 * width)


def test_slices_from_the_end_of_a_free_dimension_are_found_for_the_runtime_that_rejects_them():
    from converter.targets.onnx import free_slices_from_the_end

    found = {family for family in EXPECTED if free_slices_from_the_end(onnx.load(FIXTURES / f"{family}.onnx"))}
    # their shifted-window masks, img_mask[:, -w:-s]
    assert found == {"swinir", "hat", "srformer", "drct", "dctlsa", "craft"}


def test_topk_is_written_for_tfjs_on_any_axis_largest_or_smallest():
    import tensorflow as tf

    from converter.emitters.onnx_to_tf import Interpreter

    rng = np.random.default_rng(3)
    for axis, largest in ((1, 1), (-1, 0), (2, 1)):
        k = numpy_helper.from_array(np.array([2], np.int64), "k")
        nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest, name="top"),
                 helper.make_node("Cast", ["i"], ["f"], to=TensorProto.FLOAT),
                 helper.make_node("Add", ["v", "f"], ["y"])]
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 4])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [k])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        x = rng.standard_normal((1, 3, 5, 4)).astype(np.float32)
        expected = onnx.reference.ReferenceEvaluator(model).run(None, {"x": x})[0]
        ours = Interpreter(model)(tf.constant(x.transpose(0, 2, 3, 1))).numpy().transpose(0, 3, 1, 2)
        np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_layers_models_name_the_ops_the_keras_translation_lacks(tmp_path):
    result = run_cli("convert", FIXTURES / "hat.onnx", "-o", tmp_path / "o", "--tfjs-model", "layers")
    assert_clean_error(result, 2, "for a TF.js layers model", "LayerNormalization (", "--tfjs-model graph")


def test_an_op_nothing_translates_stops_tfjs_but_not_onnx(tmp_path):
    source = _conv_then(tmp_path, helper.make_node("Sin", ["c"], ["s"], name="odd_activation"))
    for kind in ("layers", "graph"):
        refused = run_cli("convert", source, "-o", tmp_path / kind, "--tfjs-model", kind)
        assert_clean_error(refused, 2, "Sin (odd_activation)")
        assert not (tmp_path / kind).exists()
    done = run_cli("convert", source, "-o", tmp_path / "onnx", "--format", "onnx")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "onnx" / "onnx").iterdir()) == ["float16", "float32", "uint8"]


def test_an_attribute_the_graph_translation_lacks_is_a_clean_error(tmp_path):
    pool = helper.make_node("MaxPool", ["c"], ["s"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1,
                            name="ceil_pool")
    result = run_cli("convert", _conv_then(tmp_path, pool), "-o", tmp_path / "o", "--tfjs-model", "graph")
    assert_clean_error(result, 2, "MaxPool 'ceil_pool': ceil_mode", "--format onnx")
    assert not (tmp_path / "o").exists()


def _conv_then(tmp_path: Path, node) -> Path:
    """A x2 net: a conv, `node` (c -> s), then PyTorch's pixel shuffle."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((12, 3, 3, 3)).astype("float32") * 0.3, "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="stem"), node,
             helper.make_node("DepthToSpace", ["s"], ["y"], blocksize=2, mode="CRD", name="shuffle")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, None, None])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    source = tmp_path / f"{node.op_type.lower()}.onnx"
    onnx.save(model, source)
    return source
