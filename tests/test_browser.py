"""The browser lane: bundles verified where users run them, in headless
Chromium (SwiftShader on this CPU-only machine): TF.js on WebGL and WebGPU,
onnxruntime-web on wasm and on both of its WebGPU execution providers."""

from __future__ import annotations

import json

import pytest
from conftest import GANS, ROOT, RRDN_WEIGHTS, assert_clean_error, run_cli

from converter.core.precisions import DEFAULT_GATES
from converter.release import recipes
from converter.targets import TARGETS

pytestmark = pytest.mark.slow

def test_every_artifact_passes_on_every_browser_backend_or_says_why_not(browser_bundle):
    out, _ = browser_bundle
    manifest = json.loads((out / "manifest.json").read_text())
    for artifact in manifest["artifacts"]:
        target = TARGETS[artifact["format"]]
        ran = {r["runtime"]: r for r in artifact["parity"]["results"]}
        exempt = artifact["unsupported_backends"] or {}
        expected = {name.replace("tfjs", "tfjs-wasm") if name == "tfjs" else name
                    for name in target.runtimes + target.browser_runtimes}
        assert set(ran) | set(exempt) == expected, artifact["entry"]
        assert not set(ran) & set(exempt)
        assert all(r["pass"] for r in ran.values()), artifact["entry"]
        if artifact["format"].startswith("tfjs"):
            assert not exempt, f"{artifact['entry']} must never be exempt"
        if artifact["precision"] == "float32":  # only for what the graph holds that JSEP rejects
            assert set(exempt) <= {"chromium-ort-jsep"}, artifact["entry"]
            assert all("Slice counted from the end of a dimension of free size" in why for why in exempt.values())
        for why in exempt.values():
            assert len(why) > 40  # a reason a person can act on, not a flag
        if out.name == "swinir.onnx" and artifact["format"] == "onnx":  # its free-size mask slices from the end
            assert "chromium-ort-jsep" in exempt and "chromium-ort-webgpu" in ran, artifact["entry"]


def test_the_report_names_the_adapter_and_both_timings(browser_bundle):
    out, result = browser_bundle
    parity = json.loads((out / "parity.json").read_text())
    browser = parity["host"]["browser"]
    assert browser["chromium"].split(".")[0].isdigit()
    assert set(browser["adapter"]) >= {"vendor", "architecture", "shader_f16", "max_storage_buffers_per_shader_stage"}
    browser_rows = [r for a in parity["artifacts"] for r in a["parity"]["results"] if r["runtime"].startswith("chromium")]
    assert browser_rows and all(r["first_ms"] > 0 and r["ms"] > 0 for r in browser_rows)
    assert all(len(r["inputs"]) == 2 for r in browser_rows)  # one tile and one photo: SwiftShader is slow
    for runtime in ("chromium-webgl", "chromium-webgpu", "chromium-ort-wasm", "chromium-ort-webgpu", "chromium-ort-jsep"):
        assert f" {runtime} " in result.stdout
    assert "Browser: Chromium" in (out / "parity.md").read_text()


def test_a_conv_without_its_attributes_fails_on_webgpu_by_name(fixtures_dir, tmp_path):
    """The bundle srconvert wrote before the explicit-attributes fix: Node
    parity passes it, the WebGPU kernels of onnxruntime-web's default build
    refuse it."""
    result = run_cli("convert", fixtures_dir / "rdn_keras2.h5", "-o", tmp_path / "o", "--browser", "--format", "onnx",
                     "--quantize", "float32", "--no-fix", "onnx_explicit_attributes")
    assert result.returncode == 1
    assert "onnx/float32/model.onnx in chromium-ort-jsep: " in result.stderr and "dilations" in result.stderr
    assert "Traceback" not in result.stderr
    failed = (tmp_path / "o.failed" / "parity.md").read_text()
    assert "| onnx/float32/model.onnx | NHWC | onnxruntime | " in failed and "FAILED: onnx/float32/model.onnx in chromium-ort-jsep" in failed


def test_without_chromium_browser_runs_stop_before_any_work(fixtures_dir, tmp_path):
    result = run_cli("convert", fixtures_dir / "rdn_keras2.h5", "-o", tmp_path / "o", "--browser",
                     env={"SRCONVERT_CHROMIUM": "/nonexistent/chromium"})
    assert_clean_error(result, 3, "Chromium is not installed", "apt-get install chromium")
    assert not (tmp_path / "o").exists()


def _recipe_with(tmp_path, padding: int):
    """The gans recipe, movable (absolute calibration path) and with its padding replaced."""
    text = GANS.read_text().replace('"../fixtures/images"', json.dumps(str(ROOT / "fixtures" / "images")))
    text = text.replace(f"padding = {recipes.load(GANS).padding}\n", f"padding = {padding}\n")
    path = tmp_path / GANS.name
    path.write_text(text)
    return path


def test_upscalerjs_runs_the_package_tiled_matching_the_source_with_no_seam(gans_release):
    recipe = recipes.load(GANS)
    manifest = json.loads((gans_release / "manifest.json").read_text())
    check = manifest["parity"]["client"]
    assert check["client"] == "upscaler 1.0.0" and check["runtime"] == "upscalerjs-webgl"
    assert (check["patch_size"], check["padding"]) == (recipe.patch_size, recipe.padding)
    for photo in check["photos"]:  # several tiles each way, so there are seams to find
        width, height = (int(side) for side in photo.rsplit("-", 1)[1].split("x"))
        assert width > 2 * recipe.patch_size and height > recipe.patch_size
    gate = DEFAULT_GATES[recipe.package_precision].threshold
    assert check["pass"] and check["error"] is None
    assert check["source"]["psnr_db"] >= gate and check["seam"]["psnr_db"] >= gate
    assert manifest["parity"]["pass"]
    assert "UpscalerJS client check (upscaler 1.0.0" in (gans_release / "parity.md").read_text()
    assert "Checked at build time, in Chromium: UpscalerJS" in (gans_release / "README.md").read_text()


def test_verify_of_a_release_runs_its_package_in_upscalerjs_again_as_the_plan_records(gans_release):
    recorded = json.loads((gans_release / "manifest.json").read_text())["plan"]["release"]["client"]
    recipe = recipes.load(GANS)
    assert (recorded["patch_size"], recorded["padding"], recorded["package_precision"]) == (
        recipe.patch_size, recipe.padding, recipe.package_precision)
    result = run_cli("verify", gans_release, "--browser", "--json")
    assert result.returncode == 0, result.stderr
    client = json.loads(result.stdout)["client"]
    assert client["pass"] and client["runtime"] == "upscalerjs-webgl"
    assert (client["patch_size"], client["padding"]) == (recipe.patch_size, recipe.padding)


def test_a_padding_that_leaves_seams_fails_the_build_and_names_the_smallest_that_passes(tmp_path, fixtures_dir):
    result = run_cli("build", _recipe_with(tmp_path, 0), "-o", tmp_path / "dist",
                     "--weights", fixtures_dir / RRDN_WEIGHTS, "--browser")
    assert result.returncode == 1, result.stderr
    failed = tmp_path / "dist" / "isr-gans-x4.failed"
    check = json.loads((failed / "manifest.json").read_text())["parity"]["client"]
    assert not check["pass"] and check["padding"] == 0
    assert check["seam"]["psnr_db"] < DEFAULT_GATES["uint8"].threshold  # the seam, found on its line
    smallest = check["smallest_passing_padding"]
    assert 0 < smallest <= recipes.load(GANS).padding
    assert f"the smallest padding that passes is {smallest}: set padding = {smallest} in the recipe" in result.stderr
    assert "Traceback" not in result.stderr
