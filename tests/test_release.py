"""Weights-only checkpoints, recipes and reproducible releases."""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, assert_clean_error, run_cli

from converter.backends.node.host import node_modules
from converter.release.recipes import discover

pytestmark = pytest.mark.slow

RRDN_WEIGHTS = "rrdn-C2-D2-G8-G08-T2-x4_weights.hdf5"
RDN_WEIGHTS = "rdn-C2-D10-G8-G08-x2_weights.hdf5"
SHIPPED = discover()


@pytest.mark.parametrize("weights, full", [(RRDN_WEIGHTS, "rrdn_keras2.h5"), (RDN_WEIGHTS, "rdn_keras2.h5")])
def test_weights_only_files_convert_with_no_flags_to_the_full_models_artifacts(fixtures_dir, tmp_path, weights, full,
                                                                               rrdn_bundle):
    def build(name, out):
        if name == "rrdn_keras2.h5":  # the session's bundle is this very conversion
            shutil.copytree(rrdn_bundle[0], tmp_path / out)
            return rrdn_bundle[1]
        result = run_cli("convert", fixtures_dir / name, "-o", tmp_path / out, "--quantize", "float32,uint8", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    from_weights, from_full = build(weights, "w"), build(full, "f")
    assert from_weights["source"]["format"] == "keras-weights-h5"
    assert from_weights["source"]["architecture"]["family"] == full.split("_")[0]
    assert [a["files"] for a in from_weights["artifacts"]] == [a["files"] for a in from_full["artifacts"]]
    for artifact in from_full["artifacts"]:  # every file of every artifact, byte for byte
        for entry in artifact["files"]:
            assert filecmp.cmp(tmp_path / "w" / entry["path"], tmp_path / "f" / entry["path"], shallow=False), entry


def test_inspect_shows_the_detected_family_and_parameters(fixtures_dir):
    result = run_cli("inspect", fixtures_dir / RRDN_WEIGHTS, "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["architecture"] == {"family": "rrdn", "params": {"C": 2, "D": 2, "G": 8, "G0": 8, "T": 2, "x": 4,
                                                                  "beta": 0.2, "kernel_size": 3, "channels": 3}}
    assert facts["params"] == 18316


def test_scale_of_an_upsampling_head_comes_from_the_name_or_arch_params(fixtures_dir, tmp_path):
    anonymous = tmp_path / "weights.hdf5"
    shutil.copy(fixtures_dir / RDN_WEIGHTS, anonymous)
    assert_clean_error(run_cli("inspect", anonymous), 2, "x=2")
    result = run_cli("inspect", anonymous, "--arch", "rdn", "--arch-params", "x=3", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scale"] == 3


def test_verify_reads_a_weights_only_source_with_the_hyperparameters_it_was_converted_with(fixtures_dir, tmp_path):
    anonymous = tmp_path / "weights.hdf5"  # no scale in its name: convert needed --arch-params x=3
    shutil.copy(fixtures_dir / RDN_WEIGHTS, anonymous)
    built = run_cli("convert", anonymous, "-o", tmp_path / "o", "--arch", "rdn", "--arch-params", "x=3",
                    "--format", "onnx", "--quantize", "float32")
    assert built.returncode == 0, built.stderr
    result = run_cli("verify", tmp_path / "o", "--json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["parity_pass"] is True and Path(outcome["source"]).resolve() == anonymous.resolve()


def test_weights_of_no_known_family_list_the_families_tried(tmp_path):
    import tf_keras

    inputs = tf_keras.Input((None, None, 3))
    model = tf_keras.Model(inputs, tf_keras.layers.Conv2D(3, 3, padding="same", name="mystery")(inputs))
    model.save_weights(tmp_path / "mystery.h5")
    result = run_cli("convert", tmp_path / "mystery.h5", "-o", tmp_path / "o")
    assert_clean_error(result, 2, "tried: rrdn, rdn", "--arch")
    assert_clean_error(run_cli("inspect", tmp_path / "mystery.h5", "--arch", "esrgan"), 2, "rrdn, rdn")


def test_recipes_lists_each_recipe_and_its_weights_file():
    result = run_cli("recipes")
    assert result.returncode == 0
    for recipe in SHIPPED:
        assert recipe.name in result.stdout and recipe.weights_path.name in result.stdout
    assert {r.name for r in SHIPPED} == {"isr-psnr-small-x2", "isr-psnr-large-x2", "isr-noise-cancel-x2", "isr-gans-x4"}


def test_a_missing_weights_file_is_named(tmp_path):
    result = run_cli("build", ROOT / "recipes" / "isr-psnr-large-x2.toml", "-o", tmp_path)
    assert result.returncode == 2
    assert "rdn-C6-D20-G64-G064-x2_PSNR_epoch086.hdf5 not found" in result.stderr and "--weights" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "isr-psnr-large-x2").exists()


@pytest.mark.parametrize("recipe", SHIPPED, ids=lambda r: r.name)
def test_each_shipped_recipe_builds_from_fixture_sized_weights(fixtures_dir, tmp_path, recipe, request):
    if recipe.name == "isr-gans-x4":  # the module's build of it is this very build
        result, release, _ = request.getfixturevalue("gans_release")
    else:
        weights = fixtures_dir / (RRDN_WEIGHTS if recipe.arch == "rrdn" else RDN_WEIGHTS)
        result = run_cli("build", recipe.path, "-o", tmp_path, "--weights", weights)
        assert result.returncode == 0, result.stderr
        release = tmp_path / recipe.name
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["release"]["name"] == recipe.name and manifest["parity"]["pass"] is True
    assert manifest["model"]["scale"] == recipe.scale
    package = json.loads((release / "package.json").read_text())
    assert (package["name"], package["version"], package["license"]) == (recipe.name, recipe.version, recipe.license)
    assert "| tfjs/uint8/model.json |" in (release / "README.md").read_text()
    # Every shipped recipe describes ISR-size weights; the fixture's are not those.
    assert recipe.description not in package["description"]
    assert f"{recipe.name}: warning: the recipe describes" in result.stderr


def _build_gans(fixtures_dir, out):
    recipe = ROOT / "recipes" / "isr-gans-x4.toml"
    result = run_cli("build", recipe, "-o", out, "--weights", fixtures_dir / RRDN_WEIGHTS)
    assert result.returncode == 0, result.stderr
    return out / "isr-gans-x4"


def test_verify_of_a_release_finds_its_weights_and_re_runs_parity(gans_release, tmp_path):
    _, release, manifest = gans_release
    assert manifest["source"]["path"] == RRDN_WEIGHTS  # the label stays the file's name
    result = run_cli("verify", release, cwd=tmp_path)  # from elsewhere: found by its path relative to the release
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("verified: every artifact matches")


def test_two_builds_of_a_recipe_are_byte_identical(gans_release, fixtures_dir, tmp_path_factory):
    # The second build sits as deep as the module's, since the manifest records the source relative to the release.
    first, second = gans_release[1], _build_gans(fixtures_dir, tmp_path_factory.mktemp("gans"))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    different = [str(f) for f in files if not filecmp.cmp(first / f, second / f, shallow=False)]
    assert different == []


def test_several_recipes_build_in_parallel(fixtures_dir, tmp_path):
    recipes = []
    for name, weights in (("isr-gans-x4", RRDN_WEIGHTS), ("isr-psnr-small-x2", RDN_WEIGHTS)):
        text = (ROOT / "recipes" / f"{name}.toml").read_text()
        text = text.replace(text.split("weights = ")[1].split("\n")[0], json.dumps(str(fixtures_dir / weights)))
        text = "\n".join(line for line in text.splitlines() if not line.startswith("params ="))
        text = text.replace('"../fixtures/images"', json.dumps(str(ROOT / "fixtures" / "images")))
        (tmp_path / f"{name}.toml").write_text(text)
        recipes.append(tmp_path / f"{name}.toml")
    result = run_cli("build", *recipes, "-o", tmp_path / "dist", "-j", "2")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == ["isr-gans-x4", "isr-psnr-small-x2"]
    for name in ("isr-gans-x4", "isr-psnr-small-x2"):  # each worker's progress, told apart by its recipe
        assert f"{name}: [" in result.stderr
        # No params table in these recipes: the description's own C4 D3 ... no longer fits the file.
        assert f"{name}: warning: the recipe describes" in result.stderr


def _model_js_meta(model_js: str) -> dict:
    return json.loads(model_js.split("meta: ")[1].split(",\n")[0])


def _model_js_list(model_js: str, key: str) -> list:
    return json.loads(model_js.split(f"{key}: ")[1].split(",\n")[0])


def _fake_manifest(params, measured=None, intended=(0.0, 1.0)):
    return {"source": {"path": "w.hdf5", "architecture": {"family": "rrdn", "params": params}},
            "model": {"scale": 4, "output_range": list(intended), "output_range_measured": measured},
            "parity": {"verified": measured is not None}}


def test_the_recipe_text_that_no_longer_fits_the_file_is_named():
    from converter.release import package_npm
    from converter.release.recipes import load

    recipe = load(ROOT / "recipes" / "isr-gans-x4.toml")
    own = {"C": 4, "D": 3, "G": 32, "G0": 32, "T": 10, "x": 4, "beta": 0.2, "kernel_size": 3, "channels": 3}
    assert package_npm.label(recipe, _fake_manifest(own)).description == recipe.description
    assert package_npm.warnings(recipe, _fake_manifest(own, [0.01, 0.98])) == []
    small = {**own, "C": 2, "G": 8}
    named = package_npm.label(recipe, _fake_manifest(small))
    assert named.mismatches == (("C", 4, 2), ("G", 32, 8))
    assert named.description.startswith("RRDN x4 (C=2, D=3, G=8, G0=32, T=10), weights from w.hdf5; the recipe")
    (line,) = package_npm.warnings(recipe, _fake_manifest(small))
    assert "C=4, G=32" in line and "C=2, G=8" in line
    # The description alone names parameters too ("C4 D3 G32 G0 32"): G0 32 is not G=0.
    assert package_npm.described_params(recipe.description, ["C", "D", "G", "G0", "T"]) == {
        "C": 4, "D": 3, "G": 32, "G0": 32, "T": 10}
    # Far outside the intended range: UpscalerJS clips it.
    (line,) = package_npm.warnings(recipe, _fake_manifest(own, [-3.2, 2.7]))
    assert "[-3.2, 2.7]" in line and "UpscalerJS will clip" in line
    assert package_npm.warnings(recipe, _fake_manifest(own, [-0.4, 1.4])) == []
    assert package_npm.warnings(recipe, _fake_manifest(own, [0, 400.0], (0.0, 255.0)))


@pytest.fixture(scope="module")
def gans_release(fixtures_dir, tmp_path_factory):
    """One verified build of isr-gans-x4 from the fixture RRDN (C2 D2 G8,
    not the recipe's C4 D3 G32), run as a CI job runs it: CI=true, stderr a pipe."""
    out = tmp_path_factory.mktemp("gans")
    result = run_cli("build", ROOT / "recipes" / "isr-gans-x4.toml", "-o", out, "--weights",
                     fixtures_dir / RRDN_WEIGHTS, env={"CI": "true"})
    assert result.returncode == 0, result.stderr
    release = out / "isr-gans-x4"
    return result, release, json.loads((release / "manifest.json").read_text())


def test_a_no_verify_build_says_plainly_it_was_not_verified(fixtures_dir, tmp_path):
    result = run_cli("build", ROOT / "recipes" / "isr-gans-x4.toml", "-o", tmp_path, "--weights",
                     fixtures_dir / RRDN_WEIGHTS, "--no-verify", "--quiet")
    assert result.returncode == 0, result.stderr
    release = tmp_path / "isr-gans-x4"
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["parity"]["verified"] is False and manifest["parity"]["pass"] is None
    card, package = (release / "README.md").read_text(), (release / "package.json").read_text()
    for text in (card, package):
        assert "was run" not in text and "FAILED" not in text
        assert "not verified" in text.lower()
    top = card.split("\n\n")[1]  # the line under the title
    assert "NOT VERIFIED" in top and "--no-verify" in top and "srconvert verify" in top
    parity = card.split("## Parity")[1]
    assert "NOT verified" in parity and "srconvert verify" in parity and "| pass |" not in parity.split("\n|")[0]
    assert json.loads(package)["description"].startswith("NOT VERIFIED")
    meta = _model_js_meta((release / "model.js").read_text())
    assert meta["measuredOutputRange"] is None and meta["verified"] is False
    assert "| output range (measured) | not measured" in card
    # The table says so too, and --quiet leaves only warnings on stderr.
    assert "not verified" in result.stdout and "NOT verified" in result.stdout.splitlines()[-1]
    assert "isr-gans-x4: [" not in result.stderr and "isr-gans-x4: warning: the recipe describes" in result.stderr


def test_a_build_from_other_weights_is_described_from_the_file_and_warns(gans_release):
    result, release, manifest = gans_release
    package = json.loads((release / "package.json").read_text())
    card = (release / "README.md").read_text()
    assert manifest["source"]["architecture"]["params"]["C"] == 2
    assert package["name"] == "isr-gans-x4"  # the release's identity stays the recipe's
    description = package["description"]
    assert "RRDN x4 (C=2, D=2, G=8, G0=8, T=2)" in description and RRDN_WEIGHTS in description
    assert "GAN-trained" not in description and "C4 D3 G32" not in description
    assert "C=4, D=3, G=32" in description  # what the recipe claims is named as the recipe's
    assert "onnx" not in package["keywords"] and "rrdn" in package["keywords"]
    assert f"\n{description}\n" in card
    assert "| architecture | rrdn (C=2, D=2, G=8, G0=8, T=2," in card
    assert f"| weights | `{RRDN_WEIGHTS}` (sha256 `{manifest['source']['sha256']}`) |" in card
    warnings = [line for line in result.stderr.splitlines() if "warning: the recipe describes" in line]
    assert len(warnings) == 1 and warnings[0].startswith("isr-gans-x4: warning: ")
    assert "C=4" in warnings[0] and "C=2" in warnings[0] and RRDN_WEIGHTS in warnings[0]
    assert manifest["release"]["weights"] == "weights/rrdn-C4-D3-G32-G032-T10-x4_epoch299.hdf5"


def test_model_js_output_range_is_the_intended_one_with_the_measured_one_beside_it(gans_release):
    result, release, manifest = gans_release
    model_js = (release / "model.js").read_text()
    assert _model_js_list(model_js, "outputRange") == [0, 1] == manifest["model"]["output_range"]
    measured = manifest["model"]["output_range_measured"]
    assert measured is not None and measured[0] < measured[1]
    assert _model_js_meta(model_js)["measuredOutputRange"] == measured
    card = (release / "README.md").read_text()
    assert "| output range (measured) | [" in card
    clipped = measured[0] < -0.5 or measured[1] > 1.5
    assert ("UpscalerJS will clip" in result.stderr) == clipped, result.stderr
    assert ("which UpscalerJS clips it to" in card) == clipped


def test_the_npm_package_holds_what_model_js_loads_and_no_reports(gans_release):
    _, release, manifest = gans_release
    packed = subprocess.run(["npm", "pack", "--dry-run", "--json"], cwd=release, capture_output=True, text=True,
                            timeout=120)
    assert packed.returncode == 0, packed.stderr
    (tarball,) = json.loads(packed.stdout)
    names = {f["path"] for f in tarball["files"]}
    layers = [a for a in manifest["artifacts"] if a["format"] == "tfjs-layers"]
    assert len(layers) == 3  # every precision model.js exports
    expected = {"model.js", "package.json", "README.md", *(f["path"] for a in layers for f in a["files"])}
    assert {"tfjs/custom-layers.js", "tfjs/custom-layers.cjs"} <= expected
    assert names == expected
    assert sorted(json.loads((release / "package.json").read_text())["files"]) == sorted(expected - {"package.json"})
    folder_bytes = sum(p.stat().st_size for p in release.rglob("*") if p.is_file())
    assert tarball["unpackedSize"] < folder_bytes / 3 and tarball["size"] < folder_bytes / 10, (tarball, folder_bytes)
    card = (release / "README.md").read_text()
    assert "not in the npm package: `onnx/float32/model.onnx`" in card
    for path in ("onnx/uint8/model.onnx", "manifest.json", "parity.md", "parity.json", "parity.html"):
        assert f"`{path}`" in card and (release / path).is_file()


def test_build_prints_the_parity_table_then_the_release(gans_release):
    result, release, manifest = gans_release
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "artifact" in line and "PSNR dB" in line)
    rows = lines[header + 1:-1]
    runs = [(a["entry"], r["runtime"]) for a in manifest["artifacts"] for r in a["parity"]["results"]]
    assert len(rows) == len(runs)
    for row, (entry, runtime) in zip(rows, runs):
        assert row.split()[:3] == [entry, "NHWC", runtime] and row.split()[-1] == "pass"
    assert lines[-1].startswith("built ") and str(release) in lines[-1]


def test_build_progress_reaches_a_ci_log_prefixed_with_the_recipe(gans_release):
    result, _, _ = gans_release
    progress = [line for line in result.stderr.splitlines() if line.startswith("isr-gans-x4: [")]
    assert len(progress) >= 5, result.stderr
    assert any("reading" in line for line in progress) and any("tfjs/uint8" in line for line in progress)


NODE_SCRIPT = r"""
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [modelJs, modulesDir, inputFile, outputFile, h, w] = process.argv.slice(2);
const require = createRequire(path.join(modulesDir, 'noop.js'));
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
await tf.setBackend('wasm');

const { default: model } = await import(pathToFileURL(modelJs).href);
model.setup(tf);
const file = fileURLToPath(model.path);
const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
const shards = doc.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(path.dirname(file), p))));
const weights = Buffer.concat(shards);
const loaded = await tf.loadLayersModel(tf.io.fromMemory({
  modelTopology: doc.modelTopology,
  weightSpecs: doc.weightsManifest.flatMap((g) => g.weights),
  weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
}));
const bytes = fs.readFileSync(inputFile);
const x = tf.tensor(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), [1, +h, +w, 3]);
const y = loaded.predict(x);
fs.writeFileSync(outputFile, Buffer.from((await y.data()).buffer));
console.log(JSON.stringify({ shape: y.shape, scale: model.scale, modelType: model.modelType,
                             inputRange: model.inputRange, outputRange: model.outputRange, meta: model.meta }));
"""


def test_the_npm_package_loads_in_node_through_its_model_definition_and_upscales(gans_release, fixtures_dir,
                                                                                 tmp_path):
    from PIL import Image

    release = gans_release[1]
    pixels = np.asarray(Image.open(ROOT / "fixtures" / "images" / "coffee_rim.png").convert("RGB"), np.float32) / 255
    pixels = pixels[None]
    (tmp_path / "in.bin").write_bytes(pixels.tobytes())
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT)
    h, w = pixels.shape[1:3]
    out = subprocess.run(["node", str(tmp_path / "run.mjs"), str(release / "model.js"), str(node_modules()),
                          str(tmp_path / "in.bin"), str(tmp_path / "out.bin"), str(h), str(w)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["shape"] == [1, h * 4, w * 4, 3]
    assert (info["scale"], info["modelType"], info["inputRange"], info["outputRange"]) == (4, "layers", [0, 1], [0, 1])
    assert info["meta"]["architecture"] == "rrdn" and info["meta"]["precision"] == "uint8"

    # The upscaled image is the source model's, within the uint8 gate.
    from converter.forms.keras_form import KerasForm
    from converter.sources import SourceOptions, describe

    reference = KerasForm(describe(fixtures_dir / RRDN_WEIGHTS), SourceOptions()).plain()(pixels).numpy()
    upscaled = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.float32).reshape(reference.shape)
    value_range = reference.max() - reference.min()
    psnr = 10 * np.log10(value_range**2 / np.mean((upscaled - reference) ** 2))
    assert psnr >= 40

    packed = subprocess.run(["npm", "pack", "--pack-destination", str(tmp_path), "--json"], cwd=release,
                            capture_output=True, text=True, timeout=120)
    assert packed.returncode == 0, packed.stderr
    (tarball,) = json.loads(packed.stdout)
    names = {f["path"] for f in tarball["files"]}
    assert {"model.js", "package.json", "README.md", "tfjs/custom-layers.js", "tfjs/uint8/model.json"} <= names
    assert (tmp_path / tarball["filename"]).is_file()


SWINIR_RECIPE = """
[release]
name = "swinir-tiny-x2"
version = "0.1.0"
description = "A windowed transformer, released at a fixed patch size."

[source]
weights = {weights}

[model]
scale = 2
input_size = "{size}"
{extra}

[outputs]
formats = ["tfjs", "onnx"]
precisions = ["float32"]
tfjs_model = ["graph"]

[parity]
calibration_images = {images}
"""


def _swinir_recipe(tmp_path, size="32x32", extra="padding = 4"):
    text = SWINIR_RECIPE.format(weights=json.dumps(str(ROOT / "fixtures" / "onnx" / "architectures" / "swinir.onnx")),
                                size=size, extra=extra, images=json.dumps(str(ROOT / "fixtures" / "images")))
    (tmp_path / "swinir.toml").write_text(text)
    return tmp_path / "swinir.toml"


def test_a_fixed_size_release_tells_upscalerjs_its_patch_size(tmp_path):
    result = run_cli("build", _swinir_recipe(tmp_path), "-o", tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    release = tmp_path / "dist" / "swinir-tiny-x2"
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["model"]["input_size"] == "32x32" and manifest["parity"]["pass"] is True
    # The source takes any multiple of its window; only the TF.js graph UpscalerJS runs is fixed to the patch.
    assert manifest["model"]["input_shape"] == [None, None, None, 3]
    taken = {a["format"]: a["input_sizes"] for a in manifest["artifacts"]}
    assert taken["tfjs-graph"] == {"kind": "fixed", "fixed": "32x32"} and taken["onnx"]["kind"] != "fixed"
    model_js = (release / "model.js").read_text()
    meta = json.loads(model_js.split("meta: ")[1].split(",\n")[0])
    assert (meta["patchSize"], meta["padding"], meta["inputSize"]) == (32, 4, "32x32")
    assert "modelType: 'graph'" in model_js
    assert "{ patchSize: 32, padding: 4 }" in (release / "README.md").read_text()


@pytest.mark.parametrize("size, extra, message", [
    ("32x32", "patch_size = 64", "patch_size 64 differs from the model's fixed input size 32x32"),
    ("32x48", "", "only square"),
    ("32x32", "padding = 16", "padding 16 leaves nothing of a 32x32 patch"),
    ("32by32", "", "is not HEIGHTxWIDTH"),
])
def test_a_fixed_size_recipe_upscalerjs_cannot_tile_stops_before_converting(tmp_path, size, extra, message):
    result = run_cli("build", _swinir_recipe(tmp_path, size, extra), "-o", tmp_path / "dist")
    assert_clean_error(result, 2, message)
    assert not (tmp_path / "dist" / "swinir-tiny-x2").exists()
