"""PyTorch-exported ONNX as a source: every fixture export converts and passes
parity (reference: onnxruntime on the source file); hand-built graphs cover
the rest of the supported-op table; bad graphs stop before any output."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import ROOT, assert_clean_error, run_cli
from onnx import TensorProto, helper, numpy_helper

from converter.core.progress import Progress
from converter.pipeline.convert import ConvertOptions, convert
from converter.pipeline.plan import Plan
from converter.targets import PRECISIONS as ALL_PRECISIONS

pytestmark = pytest.mark.slow

ONNX_FIXTURES = sorted((ROOT / "fixtures" / "onnx").glob("*.onnx"))
SCALES = {"rrdb": 4, "rrdb_x2": 2, "compact": 4}


def _convert(source: Path, out: Path, **options):
    result = convert(ConvertOptions(source=source, out=out, **options), Progress(False))
    assert Plan.from_dict(result.manifest["plan"]) == result.plan  # what verify re-runs is what ran
    assert Plan.of_bundle(result.manifest) == result.plan
    return result


@pytest.fixture(scope="module")
def every_target(tmp_path_factory):
    """`every_target(source)`: the source converted once per module to both
    TF.js kinds and ONNX in every precision, for the tests that read it."""
    done = {}

    def converted(source: Path):
        if source not in done:
            done[source] = _convert(source, tmp_path_factory.mktemp(source.stem) / "o",
                                    tfjs_models=("layers", "graph"), precisions=ALL_PRECISIONS)
        return done[source]

    return converted


@pytest.mark.parametrize("source", ONNX_FIXTURES, ids=lambda p: p.stem)
def test_every_pytorch_export_converts_and_passes_in_every_runtime(source, every_target):
    result = every_target(source)
    assert result.passed
    assert len(result.artifacts) == 12  # 2 TFJS kinds x 4 precisions + 4 ONNX precisions
    manifest = result.manifest
    assert manifest["source"]["format"] == "onnx"
    assert manifest["parity"]["reference"]["runtime"] == "onnxruntime"
    assert manifest["model"]["scale"] == SCALES[source.stem.rsplit("_", 1)[0]]
    layouts = {a["format"]: a["layout"] for a in manifest["artifacts"]}
    assert layouts == {"tfjs-layers": "nhwc", "tfjs-graph": "nhwc", "onnx": "nchw"}
    for artifact in result.artifacts:
        assert artifact.parity["pass"], artifact.parity
    if "x2" in source.stem:  # pixel-unshuffle input: sizes are rounded to even
        assert manifest["model"]["input_multiple"] == 2
        assert all(i["shape"][1] % 2 == 0 and i["shape"][2] % 2 == 0 for i in manifest["parity"]["reference"]["inputs"])


def test_pixel_shuffle_crd_is_folded_into_the_conv_before_it(every_target):
    result = every_target(ROOT / "fixtures" / "onnx" / "compact_torchscript.onnx")
    document = json.loads((result.out / "tfjs" / "float32" / "model.json").read_text())
    classes = [layer["class_name"] for layer in document["modelTopology"]["config"]["layers"]]
    assert "PixelShuffle" in classes
    assert classes.count("Conv2D") == 6  # no extra permutation conv: folded into the last conv's channels


def test_an_artifact_that_is_the_source_file_is_not_run_again_where_the_reference_ran(every_target, tmp_path):
    source = ROOT / "fixtures" / "onnx" / "compact_torchscript.onnx"
    result = every_target(source)
    assert result.passed
    by_name = {a.name: a for a in result.artifacts}
    same = by_name["onnx/float32"]
    assert same.files[0]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    runs = {r["runtime"]: r for r in same.parity["results"]}
    assert runs["onnxruntime"]["identical_to_source"] is True and runs["onnxruntime"]["max_abs"] == 0.0
    assert "identical_to_source" not in runs["onnxruntime-web"]  # another runtime: a real check
    assert runs["onnxruntime-web"]["max_abs"] > 0.0
    changed = {r["runtime"]: r for r in by_name["onnx/float16"].parity["results"]}
    assert not any("identical_to_source" in r for r in changed.values())
    assert "onnx/float32/model.onnx is the source file, byte for byte" in (result.out / "parity.md").read_text()
    # The same graph with transposes around it is another file: run like any other.
    nhwc = _convert(source, tmp_path / "nhwc", formats=("onnx",), precisions=("float32",), onnx_layout="nhwc")
    (artifact,) = nhwc.artifacts
    assert not any("identical_to_source" in r for r in artifact.parity["results"])
    assert all(r["pass"] for r in artifact.parity["results"])


# --- hand-built graphs: ops the fixtures do not hold (test_op_tables checks the table) ---

RNG = np.random.default_rng(3)


def _init(name, shape, scale=0.3):
    return numpy_helper.from_array((RNG.standard_normal(shape) * scale).astype(np.float32), name)


def _save(tmp_path: Path, nodes, initializers, opset=13, channels=3, check=True) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", channels, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", None, None, None])
    graph = helper.make_graph(nodes, "g", [x], [y], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


GRAPHS = {
    "conv_variants": (
        [
            helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[0, 1, 2, 1], strides=[1, 1]),  # asymmetric pads
            helper.make_node("LeakyRelu", ["c1"], ["l1"], alpha=0.1),
            helper.make_node("Conv", ["l1", "wd"], ["c2"], group=8, pads=[1, 1, 1, 1]),  # depthwise, no bias
            helper.make_node("PRelu", ["c2", "slope"], ["p1"]),
            helper.make_node("Conv", ["p1", "w3", "b3"], ["c3"], pads=[2, 2, 2, 2], dilations=[2, 2]),
            helper.make_node("Clip", ["c3", "zero", "one"], ["y0"]),
            helper.make_node("ConvTranspose", ["y0", "wt", "bt"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1]),
        ],
        [_init("w1", (8, 3, 3, 3)), _init("b1", (8,)), _init("wd", (8, 1, 3, 3)), _init("slope", (8, 1, 1), 0.2),
         _init("w3", (12, 8, 3, 3)), _init("b3", (12,)), numpy_helper.from_array(np.float32(0), "zero"),
         numpy_helper.from_array(np.float32(1), "one"), _init("wt", (12, 3, 4, 4)), _init("bt", (3,))],
        13,
    ),
    "arithmetic_and_d2s_dcr": (
        [
            helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
            helper.make_node("Sub", ["c1", "mean"], ["s1"]),  # per-channel constant
            helper.make_node("Div", ["s1", "std"], ["d1"]),
            helper.make_node("Sigmoid", ["d1"], ["g1"]),
            helper.make_node("Mul", ["c1", "g1"], ["m1"]),  # tensor x tensor
            helper.make_node("Tanh", ["m1"], ["t1"]),
            helper.make_node("Sub", ["half", "t1"], ["s2"]),  # scalar - tensor
            helper.make_node("Identity", ["s2"], ["i1"]),
            helper.make_node("DepthToSpace", ["i1"], ["y"], blocksize=2, mode="DCR"),
        ],
        [_init("w1", (12, 3, 3, 3)), _init("b1", (12,)), _init("mean", (1, 12, 1, 1)),
         numpy_helper.from_array(np.linspace(0.5, 2, 12, dtype=np.float32).reshape(12, 1, 1), "std"),
         numpy_helper.from_array(np.float32(0.5), "half")],
        13,
    ),
    "space_to_depth_pad_bilinear": (
        [
            helper.make_node("SpaceToDepth", ["x"], ["sd"], blocksize=2),
            helper.make_node("Pad", ["sd", "pads"], ["pd"], mode="constant"),
            helper.make_node("Conv", ["pd", "w1", "b1"], ["c1"]),
            helper.make_node("Relu", ["c1"], ["r1"]),
            helper.make_node("Resize", ["r1", "", "scales"], ["rs"], mode="linear",
                             coordinate_transformation_mode="half_pixel"),
            helper.make_node("Resize", ["rs", "", "scales"], ["rs2"], mode="nearest",
                             coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
            helper.make_node("Conv", ["rs2", "w2"], ["y"], pads=[1, 1, 1, 1]),
        ],
        [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"), _init("w1", (8, 12, 3, 3)),
         _init("b1", (8,)), numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
         _init("w2", (3, 8, 3, 3))],
        13,
    ),
    "upsample_opset9": (
        [
            helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
            helper.make_node("Upsample", ["c1", "scales"], ["y"], mode="nearest"),
        ],
        [_init("w1", (3, 3, 3, 3)), _init("b1", (3,)), numpy_helper.from_array(np.array([1, 1, 3, 3], np.float32), "scales")],
        9,
    ),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_hand_built_graphs_of_table_ops_pass_in_every_runtime(tmp_path, name):
    nodes, initializers, opset = GRAPHS[name]
    source = _save(tmp_path, nodes, initializers, opset)
    result = _convert(source, tmp_path / "o", precisions=("float32",))
    for artifact in result.artifacts:
        for run in artifact.parity["results"]:
            assert run["pass"] and run["max_abs"] <= 1e-4 * run["output_range"], (artifact.entry, run)


def test_unsupported_ops_are_all_listed_before_any_output(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="stem"),
        helper.make_node("Softmax", ["c1"], ["s1"], axis=1, name="attention_softmax"),
        helper.make_node("InstanceNormalization", ["s1", "g", "b"], ["y"], name="norm"),
    ]
    source = _save(tmp_path, nodes, [_init("w1", (3, 3, 3, 3)), _init("g", (3,)), _init("b", (3,))])
    result = run_cli("convert", source, "-o", tmp_path / "o", "--tfjs-model", "layers")
    assert_clean_error(result, 2, "InstanceNormalization (norm)", "Softmax (attention_softmax)", str(source))
    assert not (tmp_path / "o").exists()
    assert not list(tmp_path.glob(".srconvert-staging-*"))


def test_external_data_outside_the_model_folder_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.zeros(81, np.float32).tobytes())
    weight = _init("w1", (3, 3, 3, 3))
    weight.ClearField("float_data")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key="location", value="../secret.bin")
    source = _save(folder, [helper.make_node("Conv", ["x", "w1"], ["y"], pads=[1, 1, 1, 1])], [], check=False)
    model = onnx.load(source, load_external_data=False)
    model.graph.initializer.append(weight)
    onnx.save(model, source)
    result = run_cli("convert", source, "-o", tmp_path / "o")
    assert_clean_error(result, 2, "outside the model's folder", "w1")
    assert not (tmp_path / "o").exists()


def test_inspect_describes_an_onnx_source():
    result = run_cli("inspect", ROOT / "fixtures" / "onnx" / "compact_dynamo.onnx", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["format"] == "onnx" and facts["scale"] == 4
    assert "PixelShuffle" in facts["custom_layers"]


def test_an_op_the_tfjs_runtimes_lack_is_refused_for_tfjs_at_plan_time(tmp_path):
    from converter import sources
    from converter.pipeline import plan as planning
    from converter.pipeline.convert import ConvertOptions

    # A channel mix no batched matrix product expresses: TF.js's wasm backend has no Einsum kernel for it.
    nodes = [helper.make_node("Einsum", ["x", "m"], ["y"], equation="nchw,cd->ndhw", name="mix")]
    source = _save(tmp_path, nodes, [_init("m", (3, 3))])
    result = run_cli("convert", source, "-o", tmp_path / "o")
    assert_clean_error(result, 2, "Einsum kernel", "mix (nchw,cd->ndhw)", "--format onnx", str(source))
    assert not (tmp_path / "o").exists()
    for formats in (("onnx",), ("transformersjs",)):  # the other formats are still offered
        options = ConvertOptions(source=source, out=tmp_path / "o", formats=formats)
        info = sources.describe(source, options.source_options())
        assert [s.target.format for s in planning.make(planning.resolve(options, info), info).steps] == list(formats)
    # An attention product TF.js runs as MatMul needs no Einsum kernel.
    product = [helper.make_node("Einsum", ["x", "x"], ["y"], equation="nchw,ncvw->nchv", name="qk")]
    options = ConvertOptions(source=_save(tmp_path, product, []), out=tmp_path / "o")
    info = sources.describe(options.source, options.source_options())
    assert planning.make(planning.resolve(options, info), info).steps
