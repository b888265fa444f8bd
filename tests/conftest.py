"""Shared test set-up: the model fixtures (built once by fixtures/make_fixtures.py)
and helpers to run srconvert the way users do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "build"
STAMP = FIXTURES / ".stamp"
INDEPENDENT_JS = ROOT / "tests" / "js" / "independent_layers.cjs"

RRDN_SOURCES = ["rrdn_keras2.h5", "rrdn_keras3.keras", "rrdn_keras3.h5", "rrdn_savedmodel", "rrdn_tfjs", "rrdn_upscalerjs_tfjs"]
RDN_SOURCES = ["rdn_keras2.h5", "rdn_keras3.keras", "rdn_keras3.h5", "rdn_savedmodel", "rdn_tfjs"]
ALL_SOURCES = RRDN_SOURCES + RDN_SOURCES


# `make test` runs on two workers (pytest-xdist, --dist loadgroup). A worker
# takes a whole file, so a file's module fixtures are built once; files that
# share a session cache share a worker, so it is built once too; and the
# longest files go first, so no worker starts one near the end while the other
# idles (measured: 29 min on two workers where one took 42-52).
SHARED_WORKER = {"test_browser.py": "browser", "test_check_page.py": "browser"}  # browser_bundles, gans_release
LONGEST_FIRST = ["browser", "test_real_models.py", "test_ncnn.py", "test_zoo_build.py", "test_architectures.py",
                 "test_release.py", "test_pytorch.py", "test_transformersjs.py", "test_budgets.py", "test_cli.py"]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups from the marks
def pytest_collection_modifyitems(config, items):
    def group(item) -> str:
        name = item.path.name
        return SHARED_WORKER.get(name, name)

    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(group(item), len(rank)))  # stable: a file keeps its own order
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group(item)))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The model fixtures; `make test` builds them, a bare `pytest` too."""
    if not STAMP.exists():
        subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_fixtures.py"), str(FIXTURES)], check=True)
        STAMP.touch()
    return FIXTURES


@pytest.fixture(scope="session")
def rrdn_bundle(tmp_path_factory, fixtures_dir) -> tuple[Path, dict]:
    """rrdn_keras2.h5 converted once per session as a user runs it (float32
    and uint8, every target), for the tests that only read a bundle: its
    folder and the manifest `--json` printed. A test that changes files
    copies the folder first."""
    import json

    out = tmp_path_factory.mktemp("rrdn_bundle") / "o"
    result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", out, "--quantize", "float32,uint8", "--json")
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


@pytest.fixture(scope="session")
def rrdn_onnx_budgeted(tmp_path_factory, fixtures_dir) -> Path:
    """rrdn_keras2.h5 to ONNX float32 once per session, under every budget a
    user can set (--max-compute, --max-time, --max-memory), with no input
    range given: for the tests that read what its manifest and reports
    record of each. A test that changes files copies the folder first."""
    out = tmp_path_factory.mktemp("rrdn_onnx_budgeted") / "out"
    result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", out, "--format", "onnx", "--quantize",
                     "float32", "--max-compute", "1M", "--max-time", "900", "--max-memory", "6G")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def checkpoints_dir(tmp_path_factory) -> Path:
    """PyTorch checkpoints (fixtures/make_pytorch_fixtures.py), made per run:
    they are pickles, and none is committed. Needs the pytorch extra, which
    `make test` installs; without it the run fails here rather than skipping."""
    folder = tmp_path_factory.mktemp("checkpoints")
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_pytorch_fixtures.py"), str(folder)], check=True,
                   capture_output=True)
    return folder


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`srconvert ARGS` in a fresh process, as a shell or CI job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "converter", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        timeout=600,
    )


# `python -m converter`, plus one atexit hook that records the process's
# peak resident memory (VmHWM). wait4's ru_maxrss would not do: a child forked
# from pytest counts pytest's own memory (a gigabyte once TensorFlow is
# loaded) until it execs, while VmHWM starts afresh with the new program.
MEASURED = """
import atexit, os, re, sys
def record():
    status = open("/proc/self/status").read()
    kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
    open(os.environ["SRCONVERT_TEST_PEAK_FILE"], "w").write(str(kib * 1024))
atexit.register(record)
sys.argv[0] = "srconvert"
from converter.cli import main
main()
"""


def run_cli_measured(*args: str, cwd: Path | None = None, timeout: float = 600
                     ) -> tuple[subprocess.CompletedProcess[str], int]:
    """`run_cli`, and the process's peak resident memory in bytes."""
    peak_file = Path(tempfile.mkstemp(prefix="srconvert-peak-")[1])
    try:
        result = subprocess.run([sys.executable, "-c", MEASURED, *map(str, args)], capture_output=True, text=True,
                                env={**os.environ, "SRCONVERT_TEST_PEAK_FILE": str(peak_file),
                                     "PYTHONPATH": str(ROOT)},
                                cwd=cwd or ROOT, timeout=timeout)
        return result, int(peak_file.read_text())  # empty: the hook did not run, and the test errors
    finally:
        peak_file.unlink(missing_ok=True)


PROGRESS_LINE = re.compile(r"^(\S+: )?\[\s*\d+\.\ds\] ")
"""A progress line (converter.core.progress), which a build prefixes with the release's name."""


def error_lines(stderr: str) -> list[str]:
    """stderr without its progress lines: what a failure says."""
    return [line for line in stderr.splitlines() if line.strip() and not PROGRESS_LINE.match(line)]


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    """Exit code as documented, one or two lines on stderr besides the
    progress lines (which --quiet turns off), no traceback."""
    assert result.returncode == code, result.stderr
    lines = error_lines(result.stderr)
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def run_cli_sampled(*args: str, timeout: float = 600, env: dict[str, str] | None = None
                    ) -> tuple[subprocess.CompletedProcess[str], int, float]:
    """`run_cli`, the peak resident memory of its process tree (sampled every
    50 ms: a run stopped by a budget exits at once, before any exit hook of
    run_cli_measured's could record it) and the seconds it took. The result's
    `children` are the child processes seen while it ran (psutil.Process)."""
    import threading
    import time

    import psutil

    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "converter", *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    peak = [0]
    seen: dict[int, object] = {}
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(process.pid)
        while not done.wait(0.05):
            try:
                children = root.children(recursive=True)
                seen.update((child.pid, child) for child in children)
                tree = [root, *children]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        done.set()
        sampler.join()
        if process.poll() is None:
            process.kill()
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    result.children = list(seen.values())
    return result, peak[0], time.monotonic() - started


# source -> the TF.js models it converts to, and its flags beyond them.
BROWSER_SOURCES = {
    "rrdn_keras2.h5": ("fixtures/build/rrdn_keras2.h5", "layers,graph"),
    "rdn_keras3.keras": ("fixtures/build/rdn_keras3.keras", "layers,graph"),
    # pixel-unshuffle input, NCHW
    "rrdb_x2_dynamo.onnx": ("fixtures/onnx/rrdb_x2_dynamo.onnx", "layers,graph"),
    "compact_torchscript.onnx": ("fixtures/onnx/compact_torchscript.onnx", "layers,graph"),
    # Today's families, through the graph translation: a CNN at any size, and
    # a windowed transformer (MatMul, Softmax, LayerNorm, GELU) at a fixed one.
    "span.onnx": ("fixtures/onnx/architectures/span.onnx", "graph"),
    "swinir.onnx": ("fixtures/onnx/architectures/swinir.onnx", "graph", "--input-size", "32x32"),
}


@pytest.fixture(scope="session")
def browser_bundles(tmp_path_factory):
    """Each of BROWSER_SOURCES converted with --browser when a test first
    asks for it, and kept for the session. A parametrized session fixture
    would not do: pytest keeps one of its params alive at a time, so
    test_check_page converted again what test_browser had (220 s measured)."""
    made: dict[str, tuple] = {}

    def get(name: str):
        if name not in made:
            out = tmp_path_factory.mktemp("browser") / name
            source, tfjs_models, *flags = BROWSER_SOURCES[name]
            result = run_cli("convert", ROOT / source, "-o", out, "--browser", "--tfjs-model", tfjs_models,
                             "--quantize", "float32,float16,uint8,int8", *flags)
            assert result.returncode == 0, result.stderr
            made[name] = (out, result)
        return made[name]

    return get


@pytest.fixture(params=sorted(BROWSER_SOURCES))
def browser_bundle(request, browser_bundles):
    """One of BROWSER_SOURCES converted with --browser, once per session
    (test_browser reads them, test_check_page opens their check pages)."""
    return browser_bundles(request.param)


# The npm package `srconvert build --browser` writes, run by its real client:
# UpscalerJS (`upscaler` 1.0.0) in the page, tiled with the recipe's patch size
# and padding, on a photo several tiles large (parity.client).
GANS = ROOT / "recipes" / "isr-gans-x4.toml"
RRDN_WEIGHTS = "rrdn-C2-D2-G8-G08-T2-x4_weights.hdf5"


@pytest.fixture(scope="session")
def gans_release(tmp_path_factory, fixtures_dir):
    """The gans recipe built with --browser, once per session."""
    out = tmp_path_factory.mktemp("client")
    result = run_cli("build", GANS, "-o", out, "--weights", fixtures_dir / RRDN_WEIGHTS, "--browser")
    assert result.returncode == 0, result.stderr
    return out / "isr-gans-x4"
