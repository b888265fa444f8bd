"""Every source flavour converts, and every TFJS artifact (layers and graph,
all four precisions) passes parity in real TensorFlow.js under Node."""

from __future__ import annotations

import json

import pytest
from conftest import ALL_SOURCES, INDEPENDENT_JS, RRDN_SOURCES

from converter.commands.verify_bundle import verify_bundle
from converter.core.progress import Progress
from converter.graphs.topology import iter_layers, model_config
from converter.pipeline.convert import ConvertOptions, convert
from converter.pipeline.plan import Plan
from converter.targets import PRECISIONS as ALL_PRECISIONS
from converter.targets import precisions_of

pytestmark = pytest.mark.slow

EXPECTED_FIXES = {
    "keras3": {"keras3_topology", "serialization_keys", "functional_to_model"},
    "upscalerjs": {"custom_layer_names", "functional_to_model"},
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, fixtures_dir):
    """Each fixture converted once (lazily), shared by the tests below."""
    cache = {}

    def get(name: str):
        if name not in cache:
            out = tmp_path_factory.mktemp("bundles") / name
            options = ConvertOptions(
                source=fixtures_dir / name, out=out, tfjs_models=("layers", "graph"), precisions=ALL_PRECISIONS
            )
            cache[name] = convert(options, Progress(False))
        return cache[name]

    return get


RUNTIMES = {"tfjs-layers": ["tfjs-wasm"], "tfjs-graph": ["tfjs-wasm"], "onnx": ["onnxruntime", "onnxruntime-web"]}
MIN_PSNR = {"float16": 60, "uint16": 60, "uint8": 40, "int8": 35}


@pytest.mark.parametrize("name", ALL_SOURCES)
def test_every_artifact_of_every_source_passes_parity_in_its_runtimes(bundles, name):
    result = bundles(name)
    assert result.passed
    assert Plan.from_dict(result.manifest["plan"]) == result.plan  # what verify re-runs is what ran
    assert Plan.of_bundle(result.manifest) == result.plan
    got = {(a.format, a.precision) for a in result.artifacts}
    expected = {(f, p) for f in ("tfjs-layers", "tfjs-graph") for p in precisions_of("tfjs")}
    expected |= {("onnx", p) for p in precisions_of("onnx")}
    assert got == expected
    for artifact in result.artifacts:
        assert [r["runtime"] for r in artifact.parity["results"]] == RUNTIMES[artifact.format]
        assert artifact.parity["pass"] is True
        for run in artifact.parity["results"]:
            assert run["error"] is None
            # The gates are real: float32 is near-exact, quantized output is not.
            if artifact.precision == "float32":
                assert run["max_abs"] <= 1e-4 * run["output_range"]
            else:
                assert 0 < run["max_abs"] and run["psnr_db"] >= MIN_PSNR[artifact.precision]
    manifest = json.loads((result.out / "manifest.json").read_text())
    assert manifest["parity"]["pass"] is True
    assert manifest["model"]["scale"] == (4 if name.startswith("rrdn") else 2)
    assert len(manifest["parity"]["reference"]["inputs"]) >= 4  # two random sizes and photo crops
    applied = {f["name"] for f in manifest["fixes"]}
    for key, fixes in EXPECTED_FIXES.items():
        if key in name:
            assert fixes <= applied, applied


@pytest.mark.parametrize("name", ["rrdn_keras3.keras", "rrdn_upscalerjs_tfjs"])
def test_emitted_topology_uses_plain_names_and_model_class(bundles, name):
    result = bundles(name)
    document = json.loads((result.out / "tfjs" / "uint8" / "model.json").read_text())
    model = model_config(document["modelTopology"])
    assert model["class_name"] == "Model"
    layers = {layer["class_name"]: layer["config"] for layer in iter_layers(model)}
    assert layers["PixelShuffle"]["scale"] == 4
    assert layers["MultiplyBeta"]["beta"] == pytest.approx(0.2)
    assert layers["InputLayer"]["batch_input_shape"] == [None, None, None, 3]
    assert not any(">" in cls for cls in layers)


@pytest.mark.parametrize("name", RRDN_SOURCES)
def test_layers_bundles_also_pass_with_an_independent_js_implementation(bundles, fixtures_dir, name):
    result = bundles(name)
    outcome = verify_bundle(
        result.out,
        source=fixtures_dir / name,
        backend="wasm",
        custom_layers_js=INDEPENDENT_JS,
        images_dir=None,
        progress=Progress(False),
    )
    assert outcome.passed and outcome.parity_pass is True
    layers = [a for a in outcome.artifacts if a.format == "tfjs-layers"]
    assert len(layers) == 4 and all(a.parity["pass"] for a in layers)
    assert all(a.parity["pass"] for a in outcome.artifacts)


def test_tensorflowjs_alone_writes_keras3_bundles_tfjs_cannot_load(fixtures_dir, tmp_path, bundles):
    """The control: without srconvert's fixes, TF.js 4.22 refuses a Keras 3 checkpoint."""
    from converter.backends.node.host import NodeError, NodeHost
    from converter.bundle import custom_layers_js
    from converter.core import tf_runtime

    tf_runtime.tensorflowjs()
    from tensorflowjs.converters import converter as tfjs_converter

    raw = tmp_path / "raw"
    tfjs_converter.dispatch_keras_keras_to_tfjs_layers_model_conversion(str(fixtures_dir / "rrdn_keras3.keras"), str(raw))
    import custom_layers

    _, cjs = custom_layers_js.write(tmp_path, list(custom_layers.LAYERS))
    with NodeHost("wasm") as host:
        with pytest.raises(NodeError, match="batchInputShape|inputShape"):
            host.request("load", handle="raw", kind="layers", modelJson=str(raw / "model.json"), customLayers=str(cjs))
        fixed = bundles("rrdn_keras3.keras").out / "tfjs" / "float32" / "model.json"
        host.request("load", handle="fixed", kind="layers", modelJson=str(fixed), customLayers=str(cjs))
