"""Today's PyTorch architectures, as spandrel implements them and users
export them (fixtures/onnx/architectures, made by make_onnx_fixtures.py):
each becomes an ONNX bundle straight from its graph and a TF.js graph model
through onnx_to_tf, in float32, float16 and uint8, and passes parity in
onnxruntime, onnxruntime-web and TF.js against onnxruntime on the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import ROOT, assert_clean_error, run_cli
from converter import onnx_form
from converter.convert import ConvertOptions, convert
from converter.input_size import InputSize
from converter.progress import Progress

pytestmark = pytest.mark.slow

FIXTURES = ROOT / "fixtures" / "onnx" / "architectures"
# family -> the patch size its TF.js graph is built at (None: any size).
# Windowed transformers, and nets that crop or pad by their input's size,
# compute from the size; SAFMN's export is fixed at 16x16 already.
SIZES = {
    "span": None, "mosr": None, "safmn": None,
    "rcan": "32x32", "realplksr": "32x32", "omnisr": "32x32",
    "swinir": "32x32", "hat": "32x32", "dat": "32x32", "srformer": "32x32", "rgt": "32x32",
}


def test_every_committed_architecture_is_tested():
    assert sorted(p.stem for p in FIXTURES.glob("*.onnx")) == sorted(SIZES)


@pytest.mark.parametrize("family", sorted(SIZES))
def test_architecture_converts_to_onnx_and_tfjs_and_passes_everywhere(family, tmp_path):
    source = FIXTURES / f"{family}.onnx"
    model = onnx.load(source)
    assert onnx_form.computes_from_size(model) == (SIZES[family] is not None)
    size = InputSize.parse(SIZES[family]) if SIZES[family] else None
    result = convert(ConvertOptions(source=source, out=tmp_path / "o", tfjs_models=("graph",), input_size=size),
                     Progress(False))
    assert result.passed
    formats = sorted((a.format, a.precision) for a in result.artifacts)
    assert formats == sorted((f, p) for f in ("onnx", "tfjs-graph") for p in ("float32", "float16", "uint8"))
    runtimes = {(a.format, r["runtime"]) for a in result.artifacts for r in a.parity["results"]}
    assert runtimes == {("onnx", "onnxruntime"), ("onnx", "onnxruntime-web"), ("tfjs-graph", "tfjs-wasm")}
    document = result.manifest
    assert document["onnx_exporter"] == "none (the source graph)"
    assert document["model"]["scale"] == 2
    expected_size = SIZES[family] or ("16x16" if family == "safmn" else None)
    assert document["model"]["input_size"] == expected_size
    if size is not None:
        assert "fixed_input_size" in [o["name"] for o in document["optimizations"]]


def test_a_windowed_transformer_without_a_size_is_refused_for_tfjs_with_a_size_to_use(tmp_path):
    result = run_cli("convert", FIXTURES / "swinir.onnx", "-o", tmp_path / "o", "--tfjs-model", "graph")
    assert_clean_error(result, 2, "computes from its input size", "--input-size 64x64")
    assert not (tmp_path / "o").exists()


def test_layers_models_name_the_ops_the_keras_translation_lacks(tmp_path):
    result = run_cli("convert", FIXTURES / "hat.onnx", "-o", tmp_path / "o", "--tfjs-model", "layers")
    assert_clean_error(result, 2, "for a TF.js layers model", "LayerNormalization (", "--tfjs-model graph")


def test_with_no_tfjs_model_given_a_graph_the_keras_rebuild_lacks_becomes_a_graph_model(tmp_path):
    result = run_cli("convert", FIXTURES / "mosr.onnx", "-o", tmp_path / "o", "--quantize", "float32")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if p.is_dir()) == ["onnx", "tfjs-graph"]


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
