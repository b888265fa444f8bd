"""Hostile and broken inputs: one clear error, the documented exit code, no
traceback, nothing left at the destination, nothing written elsewhere, and no
payload run. Plus: a killed conversion leaves no destination folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, assert_clean_error, run_cli, run_cli_measured

pytestmark = pytest.mark.slow

CASES = [
    "missing", "empty", "truncated-h5", "text-file", "random-bytes", "empty-folder", "tfjs-graph-model",
    "damaged-zip", "zip-not-keras", "zip-member-traversal", "tfjs-bad-json", "tfjs-shard-escape",
    "tfjs-missing-shard", "savedmodel-without-keras", "lambda-payload", "unknown-custom-layer", "two-inputs",
    "vector-input", "one-channel-input-said-rgb", "two-channel-input", "nan-weights", "inf-weights", "onnx-unsupported-op",
    "onnx-external-data-escape", "onnx-truncated", "weights-of-unknown-family",
    # declared sizes the file cannot back (issue 14)
    "h5-unwritten-chunks", "h5-unallocated-contiguous", "weights-only-h5-bomb", "h5-external-link",
    "keras-config-bomb", "keras-weights-bomb", "zip-stored-size-lie", "zip-member-flood", "onnx-initializer-lie",
    "onnx-external-data-lie", "tfjs-manifest-lie", "safetensors-header-lie", "safetensors-offsets-lie",
    # PyTorch checkpoints (issue 16): pickles that would run code, and files that are no checkpoint
    "safetensors-unknown-family", "pickle-payload-zip", "pickle-payload-legacy", "pickle-not-a-checkpoint",
    # paths that are not regular files or folders, or leave their model's folder
    "fifo", "device", "socket", "symlink-loop", "tfjs-shard-link-out", "tfjs-shard-fifo", "savedmodel-link-out",
    # a genuine model over the budget it is given
    "over-memory-budget",
]
# Every refusal happens before anything heavy is loaded; measured peaks are
# 37-73 MiB. A bomb that got through would allocate gigabytes.
PEAK_CEILING = 1 << 30
# A refusal takes a fraction of a second; this only turns a hang (a blocking
# read of a pipe) into a failure instead of a stuck test run.
HANG_SECONDS = 120


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, fixtures_dir):
    folder = tmp_path_factory.mktemp("hostile")
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_hostile_fixtures.py"), str(folder)], check=True,
                   capture_output=True)
    cases = {c["name"]: c for c in json.loads((folder / "cases.json").read_text())}
    return folder, cases


def _snapshot(*folders: Path) -> dict[str, float]:
    return {str(p): p.lstat().st_mtime for folder in folders for p in folder.rglob("*")}


def test_the_corpus_and_this_test_list_the_same_cases(corpus):
    assert sorted(corpus[1]) == sorted(CASES) and len(CASES) >= 40


def test_bomb_fixtures_are_tiny_on_disk(corpus):
    folder, cases = corpus
    for name in ("h5-unwritten-chunks", "weights-only-h5-bomb", "keras-config-bomb", "keras-weights-bomb", "zip-member-flood",
                 "onnx-initializer-lie", "tfjs-manifest-lie", "safetensors-header-lie"):
        source = Path(cases[name]["source"])
        size = sum(p.stat().st_size for p in source.rglob("*")) if source.is_dir() else source.stat().st_size
        assert size < 4 << 20, (name, size)


@pytest.mark.parametrize("name", CASES)
def test_each_hostile_input_is_refused_cleanly(corpus, tmp_path, name):
    folder, cases = corpus
    case = cases[name]
    out = tmp_path / "out"
    before = _snapshot(folder, tmp_path)
    result, peak = run_cli_measured("convert", case["source"], "-o", out, *case["args"], cwd=tmp_path,
                                    timeout=HANG_SECONDS)
    assert_clean_error(result, case["exit"], *case["fragments"])
    assert peak < PEAK_CEILING, f"peak {peak / 2**20:.0f} MiB"
    assert not out.exists()
    assert _snapshot(folder, tmp_path) == before  # nothing written, staging included
    assert not list(folder.parent.rglob("PWNED-*")) and not list(tmp_path.rglob("PWNED-*"))


def test_a_conversion_killed_with_sigkill_leaves_no_destination(fixtures_dir, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "converter", "convert", str(fixtures_dir / "rdn_keras3.keras"), "-o", str(out),
               "--quantize", "float32,float16,uint8,int8", "--tfjs-model", "layers,graph"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # Kill it mid-write: once its staging folder holds a written artifact.
    while time.monotonic() < deadline and not list(tmp_path.glob(".srconvert-staging-*/tfjs/*/model.json")):
        time.sleep(0.05)
    assert process.poll() is None, "the conversion finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists()
    leftovers = list(tmp_path.glob(".srconvert-staging-*"))
    assert leftovers  # the killed run's work, hidden beside the destination
    # The next run into the same folder sweeps the dead run's staging away and succeeds.
    result = run_cli("convert", fixtures_dir / "rdn_keras3.keras", "-o", out, "--format", "tfjs", "--quantize", "float32")
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.glob(".srconvert-staging-*")) and (out / "manifest.json").is_file()
