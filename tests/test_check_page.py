"""The self-check page every verified bundle ships (check.html), opened as a
user would: `srconvert serve`, then headless Chromium (SwiftShader here) on
check.html?run=all, read through window.srconvertCheck (tests/js/check_page.cjs).

Its verdicts must be the --browser lane's, an altered file must fail its
artifact and only it, and the try-it panel's upscale of a dropped photo must
match the source model's."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import GANS, ROOT, RRDN_WEIGHTS, assert_clean_error, run_cli

from converter.backends.chromium.host import chromium_executable

pytestmark = pytest.mark.slow

DRIVER = ROOT / "tests" / "js" / "check_page.cjs"
SCREENSHOT = ROOT / "build" / "screenshots" / "check-page.png"
PAGE_SOURCES = ["rrdn_keras2.h5", "compact_torchscript.onnx"]
"""A Keras fixture and an ONNX one, of test_browser's --browser bundles."""
BACKENDS = {"layers": ("webgl", "webgpu", "wasm"), "graph": ("webgl", "webgpu", "wasm"),
            "onnx": ("wasm", "webgpu", "jsep", "webnn")}


class Served:
    """`srconvert serve FOLDER --port 0`, stopped with Ctrl-C's signal."""

    def __init__(self, folder: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-m", "converter", "serve", str(folder), "--port", "0"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        line = self.process.stdout.readline()
        assert "check.html" in line, line + self.process.stderr.read()
        self.url = next(word for word in line.split() if word.startswith("http://127.0.0.1:"))

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError("srconvert serve did not stop on SIGINT") from None
        assert self.process.returncode == 0 and "Traceback" not in err, err
        return out


def open_page(folder: Path, *args: str) -> dict:
    served = Served(folder)
    try:
        page = drive(served.url, *args)
    finally:
        said = served.stop()
    assert "stopped" in said
    return page


def drive(url: str, *args: str) -> dict:
    result = subprocess.run(["node", str(DRIVER), chromium_executable(), url, *map(str, args)],
                            capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@contextlib.contextmanager
def static_server(folder: Path):
    """A plain static file server, as any host of a bundle is: no check/libs/ but the folder's own."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                          ".mjs": "text/javascript", ".js": "text/javascript"}

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/check.html"
    finally:
        server.shutdown()
        server.server_close()


def rows_by_artifact(check: dict) -> dict[str, dict[str, dict]]:
    rows: dict[str, dict[str, dict]] = {}
    for row in check["results"]:
        rows.setdefault(row["artifact"], {})[row["backend"]] = row
    return rows


def kind(artifact: dict) -> str:
    return "onnx" if artifact["format"] == "onnx" else artifact["format"].removeprefix("tfjs-")


def assert_verdicts_are_browser_paritys(folder: Path, check: dict) -> None:
    """Every artifact on every backend of its kind; each row whose runtime
    the bundle's --browser parity ran gives its verdict, each exemption
    stays one, and nothing fails."""
    manifest = json.loads((folder / "manifest.json").read_text())
    runtimes = json.loads((folder / "check" / "reference.json").read_text())["runtimes"]
    rows = rows_by_artifact(check)
    assert set(rows) == {a["entry"] for a in manifest["artifacts"]}
    compared = 0
    for artifact in manifest["artifacts"]:
        assert set(rows[artifact["entry"]]) == set(BACKENDS[kind(artifact)])
        results = {r["runtime"]: r for r in artifact["parity"]["results"]}
        exempt = artifact["unsupported_backends"] or {}
        for backend, row in rows[artifact["entry"]].items():
            runtime = runtimes[kind(artifact)].get(backend)
            if runtime in exempt:
                assert row["unsupported"] == f"exempt: {exempt[runtime]}", row
            elif runtime in results:
                assert row["pass"] is results[runtime]["pass"] is True, (row, results[runtime])
                assert row["first_ms"] > 0 and row["warm_ms"] > 0 and row["psnr_db"] > 0
                compared += 1
            else:
                assert backend == "webnn" and "no WebNN" in row["unsupported"], row
    browser_runs = sum(r["runtime"].startswith("chromium") for a in manifest["artifacts"]
                       for r in a["parity"]["results"])
    assert compared >= browser_runs > 0  # every browser result of the bundle's own has its row here


def source_pixels(source: Path, pixels: np.ndarray, manifest: dict, **options) -> np.ndarray:
    """The source model's output on a 0-255 RGB photo, as the page maps it to pixels."""
    from converter import sources
    from converter.pipeline.execute import source_form

    low, high = manifest["model"]["input_range"]
    out_low, out_high = manifest["model"]["output_range"]
    info = sources.describe(source, sources.SourceOptions(**options))
    with source_form(info, sources.SourceOptions(**options)).reference() as runner:
        output = runner.run((low + pixels[None].astype(np.float32) / 255 * (high - low)).astype(np.float32))[0]
    return np.clip(np.rint((output - out_low) / (out_high - out_low) * 255), 0, 255)


def photo_crop(tmp_path: Path, width: int, height: int) -> tuple[Path, np.ndarray]:
    from PIL import Image

    pixels = np.asarray(Image.open(ROOT / "fixtures" / "client" / "chelsea.png").convert("RGB"))[:height, :width]
    path = tmp_path / f"photo-{width}x{height}.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def tried_pixels(tried: dict) -> np.ndarray:
    import base64

    rgba = np.frombuffer(base64.b64decode(tried["rgba"]), np.uint8).reshape(tried["height"], tried["width"], 4)
    return rgba[..., :3].astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.mark.parametrize("browser_bundle", PAGE_SOURCES, indirect=True)
def test_the_page_gives_browser_paritys_verdicts_on_every_backend(browser_bundle, tmp_path):
    out, _ = browser_bundle
    shot = tmp_path / "page.png"
    page = open_page(out, "--screenshot", shot)
    check = page["check"]
    assert check.get("error") is None
    assert check["libraries"]["from"].startswith("this folder") and check["libraries"]["tfjs"] == "4.22.0"
    assert check["adapter"]["adapter"]["vendor"]  # the WebGPU adapter, as the user's browser names it
    assert_verdicts_are_browser_paritys(out, check)
    if out.name == "rrdn_keras2.h5":  # the README's screenshot
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)


def test_an_altered_file_fails_its_artifact_and_only_it_and_a_dropped_photo_upscales_as_the_source(
        bundle_copy, tmp_path):
    out, manifest = bundle_copy
    altered = "onnx/uint8/model.onnx"
    data = bytearray((out / altered).read_bytes())
    data[-1] ^= 0xFF
    (out / altered).write_bytes(bytes(data))
    photo, pixels = photo_crop(tmp_path, 30, 22)
    float32 = next(i for i, a in enumerate(manifest["artifacts"]) if a["entry"] == "tfjs/float32/model.json")
    page = open_page(out, "--photo", photo, "--artifact", float32, "--backend", "webgl")
    for entry, rows in rows_by_artifact(page["check"]).items():
        for backend, row in rows.items():
            if entry == "onnx/uint8/model.onnx":
                assert row["pass"] is False and row["error"] == f"{altered} differs from manifest.json (sha256)"
            elif backend != "webnn":
                assert row["pass"] is True and row["error"] is None, row
    tried = page["tried"]
    assert (tried["width"], tried["height"]) == (4 * 30, 4 * 22) and not tried["tiled"]
    expected = source_pixels(ROOT / "fixtures" / "build" / "rrdn_keras2.h5", pixels, manifest)
    got = tried_pixels(tried)
    assert np.abs(got - expected).max() <= 1 and psnr(got, expected) >= 55  # float32: rounding to 8 bits only


@pytest.fixture
def bundle_copy(tmp_path, rrdn_bundle):
    """A copy of the session's rrdn bundle, to alter."""
    copy = tmp_path / "bundle"
    shutil.copytree(rrdn_bundle[0], copy)
    return copy, json.loads((copy / "manifest.json").read_text())


def test_a_release_checks_in_its_page_and_the_try_it_panel_tiles_as_the_release_says(gans_release, tmp_path,
                                                                                      fixtures_dir):
    from converter.release import recipes

    recipe = recipes.load(GANS)
    manifest = json.loads((gans_release / "manifest.json").read_text())
    photo, pixels = photo_crop(tmp_path, 150, 90)  # three tiles by two at patch 64
    float32 = next(i for i, a in enumerate(manifest["artifacts"]) if a["entry"] == "tfjs/float32/model.json")
    page = open_page(gans_release, "--photo", photo, "--artifact", float32, "--backend", "webgl", "--tiled")
    assert_verdicts_are_browser_paritys(gans_release, page["check"])
    tried = page["tried"]
    assert tried["tiled"] and f"padding {recipe.padding}" in tried["caption"] and "6 tiles" in tried["caption"]
    from converter.commands.verify_bundle import recorded_reading

    expected = source_pixels(fixtures_dir / RRDN_WEIGHTS, pixels, manifest, **recorded_reading(manifest["source"]))
    assert psnr(tried_pixels(tried), expected) >= 45  # tiled at the recipe's padding: no seam shows


def test_serve_refuses_a_folder_without_a_page_and_the_page_is_left_out_when_asked(tmp_path):
    out = tmp_path / "o"
    result = run_cli("convert", ROOT / "fixtures" / "build" / "rrdn_keras2.h5", "-o", out, "--format", "onnx",
                     "--quantize", "float32", "--no-check-page")
    assert result.returncode == 0, result.stderr
    assert not (out / "check.html").exists() and not (out / "check").exists()
    assert "check_page" not in json.loads((out / "manifest.json").read_text())
    assert_clean_error(run_cli("serve", out), 2, "has no self-check page", "without --no-check-page")
    assert_clean_error(run_cli("serve", tmp_path), 2, "is not a bundle (no manifest.json")


def assert_all_pass(check: dict) -> None:
    assert check.get("error") is None and check["results"]
    for row in check["results"]:
        assert row["pass"] is True or (row["backend"] == "webnn" and row["unsupported"]), row


def test_hosted_elsewhere_the_page_loads_the_pinned_libraries_from_the_cdn_each_checked_by_its_hash(rrdn_bundle):
    out = rrdn_bundle[0]
    libraries = json.loads((out / "check" / "reference.json").read_text())["libraries"]
    with static_server(out) as url:
        page = drive(url, "--cdn")
        assert page["check"]["libraries"]["from"].startswith("the CDN")
        assert {lib["path"] for lib in libraries["scripts"]} <= set(page["cdn"])
        assert_all_pass(page["check"])
        tampered = drive(url, "--cdn", "--cdn-tamper", "onnxruntime-web/dist/ort.webgpu.min.js")
        offline = drive(url)  # no CDN reachable: the page says what it could not load, and runs nothing
    error = tampered["check"]["error"]
    assert "onnxruntime-web@1.30.0/dist/ort.webgpu.min.js" in error and "integrity" in error
    assert tampered["check"]["results"] == []
    tfjs = "https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@4.22.0/dist/tf.min.js"
    assert f"could not load {tfjs}" in offline["check"]["error"]


def test_vendored_libraries_run_from_any_static_host_and_are_the_bundles_files(tmp_path):
    out = tmp_path / "o"
    args = ("convert", ROOT / "fixtures" / "build" / "rrdn_keras2.h5", "-o", out, "--format", "onnx",
            "--quantize", "float32", "--vendor-libs")
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    vendored = {f["path"] for f in manifest["check_page"]["files"] if f["path"].startswith("check/libs/")}
    assert "check/libs/onnxruntime-web/dist/ort.webgpu.min.js" in vendored and manifest["check_page"]["vendored"]
    with static_server(out) as url:
        page = drive(url)
    assert page["check"]["libraries"]["from"].startswith("this folder") and not page["cdn"]
    assert_all_pass(page["check"])
    again = run_cli(*args, "--force")  # every vendored file is srconvert's own, so --force replaces them
    assert again.returncode == 0, again.stderr


def test_serve_hands_out_only_the_pinned_library_files_and_warns_when_it_listens_beyond_this_machine(rrdn_bundle):
    import urllib.error
    import urllib.request

    from converter.backends.node.host import node_modules

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "converter", "serve", str(rrdn_bundle[0]), "--port", "0",
                                "--host", "0.0.0.0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, env=env)
    try:
        url = next(w for w in process.stdout.readline().split() if w.startswith("http://"))
        base = url.removesuffix("check.html")
        got = urllib.request.urlopen(base + "check/libs/@tensorflow/tfjs/dist/tf.min.js").read()
        assert got == (node_modules() / "@tensorflow/tfjs/dist/tf.min.js").read_bytes()
        wasm = urllib.request.urlopen(base + "check/libs/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm")
        assert wasm.headers["Content-Type"] == "application/wasm"
        for refused in ("check/libs/puppeteer-core/package.json", "check/libs/../../../etc/passwd"):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(base + refused)
            assert error.value.code == 404, refused
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in err
    assert "warning: --host 0.0.0.0: every device that reaches this machine can read" in err
    assert "gets no WebGPU over plain HTTP (not a secure context; the file checks still run)" in err
