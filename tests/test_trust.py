"""What srconvert may delete and what its reports may claim (issue 23): it
never removes a file it did not write, a report never says more than was
checked, and a recorded input range says how it is known."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import ROOT, assert_clean_error, run_cli

pytestmark = pytest.mark.slow

RRDN = "rrdn_keras2.h5"
UPSCALERJS = ROOT / "node_modules" / "@upscalerjs"
FAST = ("--quantize", "float32", "--input-range", "0:1")


def _leftovers(folder: Path) -> list[Path]:
    return list(folder.rglob(".srconvert-staging-*"))


# --- output safety ---------------------------------------------------------------------------------------------

def test_force_never_replaces_the_source_folder_or_its_parent(fixtures_dir, tmp_path):
    tfjs = shutil.copytree(fixtures_dir / "rrdn_tfjs", tmp_path / "srcfolder")
    before = sorted(p.name for p in tfjs.iterdir())
    result = run_cli("convert", tfjs, "-o", tfjs, "--force", *FAST)
    assert_clean_error(result, 2, "is, or holds, the source")
    assert sorted(p.name for p in tfjs.iterdir()) == before

    work = tmp_path / "work"
    work.mkdir()
    model = shutil.copy(fixtures_dir / RRDN, work / "model.h5")
    result = run_cli("convert", model, "-o", work, "--force", *FAST)
    assert_clean_error(result, 2, "is, or holds, the source")
    assert Path(model).is_file()

    result = run_cli("convert", tfjs, "-o", tfjs / "out", *FAST)
    assert_clean_error(result, 2, "inside the source folder")
    assert not (tfjs / "out").exists()


def test_the_current_directory_is_refused_and_its_files_survive(fixtures_dir, tmp_path):
    (tmp_path / "thesis.txt").write_text("four years")
    for out in (".", str(tmp_path)):
        result = run_cli("convert", fixtures_dir / RRDN, "-o", out, "--force", *FAST, cwd=tmp_path)
        assert_clean_error(result, 2, "current directory", "-o out")
    assert (tmp_path / "thesis.txt").read_text() == "four years"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.txt"]


def test_a_foreign_failed_folder_is_not_replaced(fixtures_dir, tmp_path):
    (tmp_path / "o.failed").mkdir()
    (tmp_path / "o.failed" / "notes.md").write_text("mine")
    result = run_cli("convert", fixtures_dir / RRDN, "-o", tmp_path / "o", *FAST)
    assert_clean_error(result, 2, "o.failed", "notes.md")
    assert (tmp_path / "o.failed" / "notes.md").read_text() == "mine"


def test_sigterm_ends_the_run_and_leaves_nothing(fixtures_dir, tmp_path):
    out = tmp_path / "o"
    process = subprocess.Popen([sys.executable, "-m", "converter", "convert", fixtures_dir / RRDN, "-o", out,
                                "--input-range", "0:1"], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "CI": "true"})
    lines = []
    for line in process.stderr:  # wait until the runtimes run: Node children exist, staging is full
        lines.append(line)
        if "verifying" in line:
            break
    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "".join(lines)
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 143, rest
    assert "stopped by SIGTERM" in rest and "Traceback" not in rest
    left = [p.relative_to(tmp_path) for p in tmp_path.rglob("*")]
    assert not out.exists() and not _leftovers(tmp_path), left
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_a_signal_removes_a_staging_folder_a_writer_keeps_filling(tmp_path):
    """The conversion goes on while parity runs: a writer still inside one
    call can re-create what the clean-up removed. It must still end gone."""
    from converter.bundle import staging

    stage = staging.create(tmp_path / "o")
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            (stage / "tfjs").mkdir(parents=True, exist_ok=True)
            (stage / "tfjs" / "group1-shard1of1.bin").write_bytes(b"0" * 4096)

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.05)
    threading.Timer(0.3, stop.set).start()  # the writer stops (parked) while the clean-up runs
    try:
        published = staging.discard_all(settle=0.2)  # what this process published before (other tests) stays listed
        assert tmp_path / "o" not in published and not stage.exists()
    finally:
        staging._LOCK.release()  # the signal's exit would have held it; this test goes on
        stop.set()
        writer.join()
    assert not stage.exists() and not _leftovers(tmp_path)


# --- what reports claim ----------------------------------------------------------------------------------------

def test_no_verify_never_claims_a_check(fixtures_dir, tmp_path):
    out = tmp_path / "o"
    result = run_cli("convert", fixtures_dir / RRDN, "-o", out, "--no-verify", "--input-range", "0:1")
    assert result.returncode == 0, result.stderr
    assert "NOT VERIFIED" in result.stdout and "FAIL" not in result.stdout
    for name in ("parity.md", "parity.html", "parity.json", "manifest.json"):
        text = (out / name).read_text()
        assert "FAIL" not in text and "was run" not in text and "not run" not in text, name
    assert "Verdict: NOT VERIFIED" in (out / "parity.md").read_text()
    assert "Verdict: NOT VERIFIED" in (out / "parity.html").read_text()
    assert "not verified" in (out / "parity.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parity"] == {"pass": None, "verified": False}
    assert all(a["parity"] is None for a in manifest["artifacts"])


def test_reports_open_with_the_source_and_the_verdict(rrdn_bundle):
    out = rrdn_bundle
    lines = (out / "parity.md").read_text().splitlines()
    assert lines[0] == "# Parity"
    assert lines[2].startswith("Verdict: PASS. Every artifact matched") and RRDN in lines[2]
    assert lines[4].startswith("Input range 0:1 (option: set by --input-range)")
    assert "Verdict: PASS" in (out / "parity.html").read_text()


def test_a_constant_reference_fails_as_vacuous(tmp_path):
    import numpy as np
    import tf_keras

    inputs = tf_keras.Input((None, None, 3))
    flat = tf_keras.layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros", bias_initializer="zeros")(inputs)
    model = tf_keras.Model(inputs, tf_keras.layers.UpSampling2D(2)(flat))
    assert float(np.abs(model.predict(np.ones((1, 8, 8, 3)), verbose=0)).max()) == 0.0
    model.save(tmp_path / "flat.h5")
    result = run_cli("convert", tmp_path / "flat.h5", "-o", tmp_path / "o", "--format", "onnx", *FAST)
    assert_clean_error(result, 1, "vacuous check", "constant")
    report = (tmp_path / "o.failed" / "parity.md").read_text()
    assert "Verdict: FAILED" in report and "inf" not in report
    page = (tmp_path / "o.failed" / "parity.html").read_text()
    assert "Verdict: FAILED" in page and "PSNR inf" not in page and "FAIL (vacuous check" in page
    results = json.loads((tmp_path / "o.failed" / "manifest.json").read_text())["artifacts"][0]["parity"]["results"]
    assert results and all(not r["pass"] and "vacuous" in r["error"] for r in results)


def test_json_failure_carries_the_results_and_the_failed_folder(fixtures_dir, tmp_path):
    out = tmp_path / "o"
    result = run_cli("convert", fixtures_dir / RRDN, "-o", out, "--format", "onnx", "--quantize", "float32,float16",
                     "--input-range", "0:1", "--gate", "float16:psnr=300", "--json")
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert outcome["exit_code"] == 1 and outcome["failed_dir"] == str(tmp_path / "o.failed")
    verdicts = {a["entry"]: a["parity"]["pass"] for a in outcome["manifest"]["artifacts"]}
    assert verdicts == {"onnx/float32/model.onnx": True, "onnx/float16/model.onnx": False}
    assert all("psnr_db" in r for a in outcome["manifest"]["artifacts"] for r in a["parity"]["results"])


def test_a_gate_for_a_precision_not_built_is_refused(fixtures_dir, tmp_path):
    result = run_cli("convert", fixtures_dir / RRDN, "-o", tmp_path / "o", *FAST, "--gate", "int8:psnr=30")
    assert_clean_error(result, 2, "--gate int8", "builds no int8")
    assert not (tmp_path / "o").exists()


def test_exempt_rows_only_for_runtimes_that_ran(fixtures_dir, tmp_path):
    out = tmp_path / "o"
    result = run_cli("convert", fixtures_dir / RRDN, "-o", out, "--format", "onnx", "--quantize", "int8",
                     "--input-range", "0:1")
    assert result.returncode == 0, result.stderr
    assert "chromium" not in result.stdout and "chromium" not in (out / "parity.md").read_text()
    artifact = json.loads((out / "manifest.json").read_text())["artifacts"][0]
    assert artifact["unsupported_backends"] is None


# --- CI logs ----------------------------------------------------------------------------------------------------

def test_a_ci_log_shows_progress_and_quiet_silences_it(onnx_fast, fixtures_dir, tmp_path):
    args = ("convert", fixtures_dir / RRDN, "-o", tmp_path / "o", "--format", "onnx", *FAST)
    loud = onnx_fast[1]  # stderr is a pipe here, as in CI
    progress = [line for line in loud.stderr.splitlines() if line.startswith("[")]
    assert any("verifying onnx/float32 in onnxruntime" in line for line in progress), loud.stderr
    assert any("onnx/float32 in onnxruntime-web: pass" in line for line in progress), loud.stderr
    assert "\x1b" not in loud.stderr
    quiet = run_cli(*args, "--force", "--quiet", env={"CI": "true"})
    assert quiet.returncode == 0 and quiet.stderr == ""


# --- the input range and how it is known ------------------------------------------------------------------------

def _range(out: Path) -> tuple[list[float], str, dict]:
    model = json.loads((out / "manifest.json").read_text())["model"]
    return model["input_range"], model["input_range_origin"], model["input_range_evidence"]


def test_a_mean_shift_network_has_its_range_measured(fixtures_dir, tmp_path):
    out = tmp_path / "o"
    result = run_cli("convert", fixtures_dir / "meanshift_x2_keras2.h5", "-o", out, "--format", "onnx",
                     "--quantize", "float32")
    assert result.returncode == 0, result.stderr
    value, origin, evidence = _range(out)
    assert (value, origin) == ([0.0, 255.0], "measured")
    assert evidence["scores_db"]["0:255"] > 25 and evidence["scores_db"]["0:1"] < 10
    assert "warning" not in result.stderr and "input range 0:255, measured" in result.stderr
    assert "Input range 0:255 (measured: only at 0:255" in (out / "parity.md").read_text()
    # Measured first on the ONNX translation; the scores recorded are the source's own (issue 30).
    assert "its ONNX translation first; the source confirms it" in result.stderr


def _probe_outputs(crop, resembling: tuple[float, float]) -> list:
    """Outputs on the probe's batches of a x2 model that shows the photo only when fed `resembling`."""
    from PIL import Image

    from converter.parity import input_range

    h, w, _ = crop.shape
    planes = [np.asarray(Image.fromarray(crop[..., c]).resize((2 * w, 2 * h), Image.BICUBIC)) for c in range(3)]
    image = np.stack(planes, axis=-1)
    return [(image * c[1] if c == resembling else np.zeros_like(image))[None] for c in input_range.CANDIDATES]


def test_a_range_the_source_does_not_confirm_ends_the_run():
    from converter.core.errors import ParityFailed
    from converter.parity import input_range

    probe = input_range.probe([None, None, None, 3], 1, input_range.photo(ROOT / "fixtures" / "images"))
    predicted = input_range.scored(probe, _probe_outputs(probe.crop, (0.0, 255.0)))
    assert (predicted.range, predicted.origin) == ((0.0, 255.0), "measured")
    same = input_range.confirmed(predicted, probe, _probe_outputs(probe.crop, (0.0, 255.0)), "its ONNX translation")
    assert same.range == predicted.range and same.scores == predicted.scores
    with pytest.raises(ParityFailed, match=r"measured on the source \(0:1, measured.*its ONNX translation \(0:255"):
        input_range.confirmed(predicted, probe, _probe_outputs(probe.crop, (0.0, 1.0)), "its ONNX translation")


@pytest.mark.parametrize("package, model", [("default-model", "models"), ("esrgan-slim", "models/x4")])
def test_upscalerjs_weights_work_at_both_ranges_and_stay_assumed(tmp_path, package, model):
    out = tmp_path / "o"
    result = run_cli("convert", UPSCALERJS / package / model, "-o", out, "--format", "onnx", "--quantize", "float32")
    assert result.returncode == 0, result.stderr
    value, origin, evidence = _range(out)
    assert (value, origin) == ([0.0, 1.0], "assumed")
    assert min(evidence["scores_db"].values()) > 30  # a plausible image at 0:1 and at 0:255
    assert "0:1 and 0:255" in evidence["reason"] and "parity used 0:1" in evidence["reason"]
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: input range")]
    assert len(warning) == 1 and "--input-range" in warning[0]
    assert "assumed" in (out / "parity.md").read_text() and "--input-range" in (out / "parity.html").read_text()
    given = run_cli("convert", UPSCALERJS / package / model, "-o", out, "--force", "--format", "onnx",
                    "--quantize", "float32", "--input-range", "0:255")
    assert given.returncode == 0, given.stderr
    assert _range(out)[:2] == ([0.0, 255.0], "option") and "warning: input range" not in given.stderr


def test_random_weights_say_nothing_could_be_measured(rrdn_onnx_budgeted):
    value, origin, evidence = _range(rrdn_onnx_budgeted)
    assert (value, origin) == ([0.0, 1.0], "assumed")
    assert "neither range" in evidence["reason"] and max(evidence["scores_db"].values()) < 15


# --- verify -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def onnx_fast(fixtures_dir, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """rrdn_keras2.h5 to ONNX float32 at 0:1, once per module, as a CI job runs
    it (stderr a pipe): its folder, which the tests only read, and the run."""
    out = tmp_path_factory.mktemp("verify") / "o"
    result = run_cli("convert", fixtures_dir / RRDN, "-o", out, "--format", "onnx", *FAST, env={"CI": "true"})
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.fixture(scope="module")
def rrdn_bundle(onnx_fast) -> Path:
    return onnx_fast[0]


def test_verify_finds_the_source_from_any_directory(rrdn_bundle, tmp_path):
    result = run_cli("verify", rrdn_bundle, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("verified: every artifact matches")


def test_verify_names_a_wrong_source(rrdn_bundle, fixtures_dir):
    result = run_cli("verify", rrdn_bundle, "--source", fixtures_dir / "rdn_keras2.h5")
    assert result.returncode == 1
    assert "WRONG SOURCE" in result.stdout and "inf" not in result.stdout
    assert "not this bundle's source" in result.stderr


def test_verify_says_when_parity_was_not_re_run(rrdn_bundle, tmp_path):
    moved = shutil.copytree(rrdn_bundle, tmp_path / "deep" / "er" / "o")
    manifest = json.loads((moved / "manifest.json").read_text())
    manifest["source"]["path"] = "gone/model.h5"  # as if the source had moved away
    (moved / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("verify", moved, cwd=tmp_path)
    assert result.returncode == 4, result.stdout
    last = result.stdout.splitlines()[-1]
    assert last.startswith("NOT VERIFIED") and "parity was not re-run" in last and "--source" in last


def test_verify_names_a_tampered_file_even_with_a_source(rrdn_bundle, fixtures_dir, tmp_path):
    copy = shutil.copytree(rrdn_bundle, tmp_path / "o")
    with open(copy / "onnx" / "float32" / "model.onnx", "r+b") as handle:
        handle.seek(-8, 2)
        byte = handle.read(1)
        handle.seek(-8, 2)
        handle.write(bytes([byte[0] ^ 1]))
    result = run_cli("verify", copy, "--source", fixtures_dir / RRDN)
    assert result.returncode == 1
    assert "CHANGED  onnx/float32/model.onnx" in result.stdout
