"""The transformers.js target: a Hugging Face model folder checked through
the real `pipeline('image-to-image', ...)` of @huggingface/transformers in
Node, in every dtype written (issue 28)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_cli

pytestmark = pytest.mark.slow

DTYPE_FILES = {"float32": "model.onnx", "float16": "model_fp16.onnx", "uint8": "model_uint8.onnx",
               "int8": "model_int8.onnx"}
UPSCALERJS = ROOT / "node_modules" / "@upscalerjs" / "default-model" / "models"


def convert(source, out, *flags):
    result = run_cli("convert", source, "-o", out, "--format", "transformersjs", "--quantize",
                     ",".join(DTYPE_FILES), *flags)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "manifest.json").read_text())


def assert_checked_in_the_pipeline(manifest, out):
    folder = out / "transformersjs"
    assert json.loads((folder / "config.json").read_text())["model_type"] == "swin2sr"
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    assert processor["image_processor_type"] == "Swin2SRImageProcessor" and processor["do_rescale"]
    assert manifest["transformersjs_dtypes"] == {"float32": "fp32", "float16": "fp16", "uint8": "uint8", "int8": "int8"}
    for artifact in manifest["artifacts"]:
        assert artifact["entry"] == f"transformersjs/onnx/{DTYPE_FILES[artifact['precision']]}"
        (result,) = artifact["parity"]["results"]
        assert result["runtime"] == "transformersjs" and result["pass"], result
        assert all(name.endswith(("_face", "_whiskers", "_rim", "_gantry")) or "-" not in name
                   for name in result.get("inputs", []))  # photos only: the pipeline takes 8-bit images
    (fp32,) = [a for a in manifest["artifacts"] if a["precision"] == "float32"]
    assert fp32["parity"]["results"][0]["max_abs"] <= 1.001 * fp32["parity"]["results"][0]["output_range"]
    assert "pipeline('image-to-image'" in (folder / "README.md").read_text()


@pytest.mark.parametrize("source", ["fixtures/build/rrdn_keras2.h5", "fixtures/onnx/compact_torchscript.onnx"])
def test_a_keras_and_an_onnx_fixture_run_in_the_real_pipeline_in_every_dtype(source, tmp_path):
    out = tmp_path / "o"
    assert_checked_in_the_pipeline(convert(ROOT / source, out), out)


def test_a_pth_checkpoint_runs_in_the_real_pipeline(checkpoints_dir, tmp_path):
    out = tmp_path / "o"
    assert_checked_in_the_pipeline(convert(checkpoints_dir / "compact.pth", out), out)


@pytest.fixture(scope="module")
def upscalerjs_folder(tmp_path_factory):
    """UpscalerJS's default-model (0:255) as a transformers.js folder, once
    per module: its bundle and manifest. A test that changes files copies it."""
    out = tmp_path_factory.mktemp("upscalerjs") / "o"
    return out, convert(UPSCALERJS, out, "--input-range", "0:255")


def test_upscalerjs_weights_trained_on_0_255_get_the_range_folded_in(upscalerjs_folder):
    out, manifest = upscalerjs_folder
    assert_checked_in_the_pipeline(manifest, out)
    import onnx

    model = onnx.load(str(out / "transformersjs" / "onnx" / "model.onnx"))
    assert [i.name for i in model.graph.input] == ["pixel_values"] and model.graph.output[0].name == "reconstruction"
    assert model.graph.node[0].name == "srconvert_pixels_in_mul" and model.graph.node[-1].op_type == "Mul"
    again = run_cli("verify", out, "--source", UPSCALERJS)  # the range comes back from the manifest
    assert again.returncode == 0 and "verified: every artifact matches" in again.stdout, again.stderr


@pytest.mark.parametrize("broken", ["input name", "unfolded range"])
def test_a_broken_folder_fails_by_name(broken, upscalerjs_folder, tmp_path):
    """The pipeline itself on a folder that is not what it needs: it fails,
    and the result names the artifact (srconvert's own folder, altered after
    the fact, checked by the same engine `verify` uses)."""
    import onnx

    from converter import sources
    from converter.backends.lanes import Runtimes
    from converter.backends.registry import make_runner
    from converter.bundle.manifest import Artifact
    from converter.core.precisions import DEFAULT_GATES
    from converter.parity import inputs as parity_inputs
    from converter.parity import report
    from converter.parity.compare import judge
    from converter.parity.runs import compute_reference, run_inputs
    from converter.pipeline.execute import source_form

    out = shutil.copytree(upscalerjs_folder[0], tmp_path / "o")
    manifest = upscalerjs_folder[1]
    path = out / "transformersjs" / "onnx" / "model.onnx"
    model = onnx.load(str(path))
    if broken == "input name":
        model.graph.input[0].name = "image"
        model.graph.node[0].input[0] = "image"
    else:  # the folded 0:255 scaling taken out: the pipeline's 0..1 reaches a 0:255 model
        for init in model.graph.initializer:
            if init.name == model.graph.node[0].input[1]:
                init.CopyFrom(onnx.numpy_helper.from_array(np.array(1.0, np.float32), init.name))
    onnx.save(model, str(path))
    artifact = Artifact.from_dict(next(a for a in manifest["artifacts"] if a["precision"] == "float32"))
    inputs = parity_inputs.build([None, None, None, 3], (0.0, 255.0), ROOT / "fixtures" / "images")
    info = sources.describe(UPSCALERJS, sources.SourceOptions())
    reference = compute_reference(source_form(info, sources.SourceOptions()).reference(), inputs)
    runtimes = Runtimes(("transformersjs",))
    runtimes.value_range = (0.0, 255.0)
    try:
        run = run_inputs(make_runner("transformersjs", artifact, out, runtimes), inputs)
    finally:
        runtimes.close()
    result = judge(run, reference, DEFAULT_GATES["float32"])
    artifact.parity = {"pass": result["pass"], "gate": DEFAULT_GATES["float32"].as_dict(), "results": [result]}
    assert result["pass"] is False
    (line,) = report.failed([artifact])
    assert line.startswith("transformersjs/onnx/model.onnx in transformersjs"), line
    if broken == "input name":
        assert "Missing the following inputs: image" in result["error"], result  # the pipeline feeds pixel_values
    else:
        assert result["error"] is None and result["psnr_db"] < 20, result


def test_a_release_publishes_a_hub_ready_folder_beside_its_npm_package(tmp_path, fixtures_dir):
    from conftest import GANS, RRDN_WEIGHTS

    text = GANS.read_text().replace('"../fixtures/images"', json.dumps(str(ROOT / "fixtures" / "images")))
    text = text.replace('formats = ["tfjs", "onnx"]', 'formats = ["tfjs", "transformersjs"]')
    recipe = tmp_path / GANS.name
    recipe.write_text(text)
    result = run_cli("build", recipe, "-o", tmp_path / "dist", "--weights", fixtures_dir / RRDN_WEIGHTS)
    assert result.returncode == 0, result.stderr
    release = tmp_path / "dist" / "isr-gans-x4"
    manifest = json.loads((release / "manifest.json").read_text())
    hub = [a for a in manifest["artifacts"] if a["format"] == "transformersjs"]
    assert {a["precision"] for a in hub} == {"float32", "float16", "uint8"}
    assert all(a["parity"]["pass"] and a["parity"]["results"][0]["runtime"] == "transformersjs" for a in hub)
    card = (release / "transformersjs" / "README.md").read_text()
    assert card.startswith("---\nlicense: apache-2.0\nlibrary_name: transformers.js\n")
    assert "# isr-gans-x4 1.0.0" in card and "GAN-trained" in card
    package = json.loads((release / "package.json").read_text())
    assert not any("transformersjs" in f for f in package["files"])  # the npm package stays TF.js


def test_with_browser_the_pipeline_runs_in_chromium_on_webgpu_and_wasm(tmp_path):
    out = tmp_path / "o"
    manifest = convert(UPSCALERJS, out, "--input-range", "0:255", "--browser")
    for artifact in manifest["artifacts"]:
        ran = {r["runtime"]: r for r in artifact["parity"]["results"]}
        exempt = artifact["unsupported_backends"] or {}
        assert set(ran) | set(exempt) == {"transformersjs", "chromium-transformersjs-webgpu",
                                          "chromium-transformersjs-wasm"}, artifact["entry"]
        assert all(r["pass"] for r in ran.values()), artifact["entry"]
        # Only what transformers.js itself refuses on an adapter without shader-f16 is exempt.
        assert set(exempt) <= ({"chromium-transformersjs-webgpu"} if artifact["precision"] == "float16" else set())


def test_the_onnx_and_transformersjs_targets_share_one_base_and_its_passes(tmp_path):
    from converter import sources
    from converter.core.input_size import Sizes
    from converter.core.progress import Progress
    from converter.pipeline import execute
    from converter.pipeline import plan as planning
    from converter.pipeline.convert import ConvertOptions

    source = Path(__file__).resolve().parents[1] / "fixtures" / "onnx" / "compact_torchscript.onnx"
    options = ConvertOptions(source=source, out=tmp_path / "o", formats=("onnx", "transformersjs"),
                             precisions=("float32",), input_range=(0.0, 1.0))
    info = sources.describe(source, options.source_options())
    plan = planning.make(planning.resolve(options, info), info)
    assert plan.onnx_layout == "nchw"  # the layout transformers.js takes, so one base serves both
    forms = execute.load_forms(plan, info, options.source_options())
    emission = execute.Emission(forms, plan.settings(options), tmp_path, Progress(False),
                                Sizes.of_shape(forms.source.facts.input_shape, forms.source.facts.input_multiple))
    written = [artifact.format for artifact, _ in execute.emitted(plan, emission)]
    assert written == ["onnx", "transformersjs"]
    onnx_emitter, hub_emitter = emission.emitters
    assert onnx_emitter.base is hub_emitter.base and len(emission.shared) == 1
    assert hub_emitter.applied == []  # the passes ran, and are recorded, once
    assert hub_emitter.record["onnx_exporter"] == onnx_emitter.record["onnx_exporter"] == "none (the source graph)"
