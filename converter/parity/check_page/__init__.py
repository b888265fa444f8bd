"""The self-check page every verified bundle ships: `check.html`, which runs
the bundle in the browser that opens it, on every backend that browser
offers, against the source model's outputs (issue 27).

What this module writes beside the page's static files (check.html,
check.js, and the browser host's own runtimes.js, byte for byte, so the page
loads and runs an artifact exactly as `--browser` parity does):
  - check/reference.bin: the inputs the browser lane runs (parity.engine.
    small_set, for each artifact of the sizes it takes) as float32, and the
    source's outputs on them as 16-bit steps over each output's own range:
    within half a step (`storage_error`) of the source's float32, a small
    share of the tightest gate, which the page's verdicts allow for;
  - check/reference.json: where each array is, the gates, each artifact's
    inputs and exemptions, which srconvert runtime each page backend is, and
    the libraries: pinned versions, their CDN URLs and Subresource Integrity
    hashes (from the files srconvert verified with, in node_modules).

Everything is a function of the run's inputs and outputs, so a bundle stays
byte-reproducible; the files are recorded in the manifest (`check_page`), so
`verify` covers them. `--vendor-libs` copies the libraries into check/libs/,
where `srconvert serve` also serves them from node_modules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.backends.node.host import node_modules
from converter.backends.registry import RUNTIMES
from converter.bundle.manifest import describe_files
from converter.core.input_size import Sizes
from converter.targets import TARGETS

HERE = Path(__file__).resolve().parent
RUNTIMES_JS = HERE.parent.parent / "backends" / "chromium" / "runtimes.js"
PAGE = "check.html"
STATIC = {PAGE: HERE / "check.html", "check/check.js": HERE / "check.js", "check/runtimes.js": RUNTIMES_JS}
REFERENCE_JSON = "check/reference.json"
REFERENCE_BIN = "check/reference.bin"
LIBS = "check/libs"
STEPS = 65535
CDN = "https://cdn.jsdelivr.net/npm/{package}@{version}/{path}"


@dataclass(frozen=True)
class Library:
    package: str
    path: str
    """Inside the package."""
    script: bool = True
    """Loaded by a <script> tag (SRI-checked from the CDN); else a folder the
    library fetches its own files from (wasm), or a module it imports."""

    @property
    def local(self) -> str:
        return f"{self.package}/{self.path}"


SCRIPTS = (
    Library("@tensorflow/tfjs", "dist/tf.min.js"),
    Library("@tensorflow/tfjs-backend-webgpu", "dist/tf-backend-webgpu.min.js"),
    Library("@tensorflow/tfjs-backend-wasm", "dist/tf-backend-wasm.min.js"),
    # The `onnxruntime-web/webgpu` build: wasm, the native WebGPU provider and WebNN, as --browser runs it.
    Library("onnxruntime-web", "dist/ort.webgpu.min.js"),
)
DIRS = {
    "ortDist": Library("onnxruntime-web", "dist/", script=False),
    "ortDefaultBuild": Library("onnxruntime-web", "dist/ort.bundle.min.mjs", script=False),
    "tfjsWasmDist": Library("@tensorflow/tfjs-backend-wasm", "dist/", script=False),
}
VENDORED = (
    *(lib.local for lib in SCRIPTS),
    "onnxruntime-web/dist/ort.bundle.min.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
)
"""What the page may load from check/libs/: what `serve` answers for and
`--vendor-libs` copies."""
PACKAGES = tuple(sorted({lib.package for lib in (*SCRIPTS, *DIRS.values())}))


def version(package: str) -> str:
    return json.loads((node_modules() / package / "package.json").read_text())["version"]


def integrity(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def libraries() -> dict[str, Any]:
    """The page's libraries, at the versions in node_modules (the lockfile's)."""
    def entry(lib: Library) -> dict[str, Any]:
        found = {"package": lib.package, "version": version(lib.package), "path": lib.local,
                 "cdn": CDN.format(package=lib.package, version=version(lib.package), path=lib.path)}
        if lib.script:
            found["integrity"] = integrity(node_modules() / lib.local)
        return found

    return {"scripts": [entry(lib) for lib in SCRIPTS], "dirs": {name: entry(lib) for name, lib in DIRS.items()}}


def page_runtimes() -> dict[str, dict[str, str]]:
    """Which srconvert runtime each page backend is, by what the page runs
    a target as (Target.page_kind): its browser runtimes' backends, and
    those it declares besides (TF.js on wasm, which Node's TF.js lane runs)."""
    found: dict[str, dict[str, str]] = {}
    for target in TARGETS:
        if target.page_kind is not None:
            backends = found.setdefault(target.page_kind, dict(target.page_backends))
            for name in target.browser_runtimes:
                backends[dict(RUNTIMES[name].options)["backend"]] = name
    return found


def _kind(artifact) -> str | None:
    return TARGETS[artifact.format].page_kind


def write(stage: Path, reference, artifacts: list, gates: dict, exemptions: dict[str, dict[str, str] | None],
          vendor_libs: bool = False, pixel_range: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """The page, its reference data and (`vendor_libs`) its libraries, into
    `stage`; returns the manifest's `check_page` entry. `reference`: the
    run's parity.runs.Reference; `exemptions`: each artifact's, by entry,
    as its target declared them (a browser runtime this run did not verify
    in keeps its exemption on the page); `pixel_range`: where the page
    clips outputs for a gate on photos, as the parity engine does."""
    from converter.parity.compare import SHOWN_SHARE
    from converter.parity.runs import small_set, taken

    runtimes = page_runtimes()
    artifacts = [a for a in artifacts if _kind(a) in runtimes]  # the page runs TF.js and ONNX files
    chosen = {a.entry: small_set(reference.inputs, taken(reference.inputs, Sizes.from_dict(a.input_sizes)))
              for a in artifacts}
    stored = sorted({i for indices in chosen.values() for i in indices})
    blob = bytearray()
    inputs, outputs = [], []
    for index in stored:
        item = reference.inputs[index]
        inputs.append({"name": item.name, "shape": list(item.array.shape), "photo": item.is_photo,
                       "offset": len(blob)})
        blob += np.ascontiguousarray(item.array, dtype="<f4").tobytes()
    error, squared, count = 0.0, 0.0, 0
    for index in stored:
        output = reference.outputs[index].astype(np.float64)
        low, high = float(output.min()), float(output.max())
        step = (high - low) / STEPS if high > low else 1.0
        steps = np.rint((output - low) / step).astype("<u2")
        rounding = low + steps * step - output
        # the page rebuilds the values in float32, which rounds them once more
        error = max(error, float(np.abs(rounding).max()) + max(abs(low), abs(high)) * 2.0**-23)
        squared, count = squared + float(np.square(rounding).sum()), count + rounding.size
        outputs.append({"shape": list(output.shape), "offset": len(blob), "low": low, "step": step})
        blob += steps.tobytes()
        blob += bytes(-len(blob) % 4)  # the next float32 array starts aligned
    document = {
        "value_range": reference.value_range,
        "pixel_range": list(pixel_range),
        "shown_share": SHOWN_SHARE,
        "storage_error": error,
        # The PSNR the stored reference itself has against the source: a cap on what the page can read.
        "storage_psnr_db": (round(20 * np.log10(reference.value_range / np.sqrt(squared / count)), 1)
                            if squared else None),
        "inputs": inputs,
        "outputs": outputs,
        "artifacts": [{
            "entry": a.entry,
            "gate": gates[a.precision].as_dict(),
            "inputs": [stored.index(i) for i in chosen[a.entry]],
            "exempt": {backend: why for backend, runtime in runtimes[_kind(a)].items()
                       if (why := (exemptions.get(a.entry) or {}).get(runtime))},
        } for a in artifacts],
        "runtimes": runtimes,
        "libraries": libraries(),
    }
    (stage / "check").mkdir(exist_ok=True)
    for name, source in STATIC.items():
        shutil.copyfile(source, stage / name)
    (stage / REFERENCE_BIN).write_bytes(bytes(blob))
    (stage / REFERENCE_JSON).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    written = [stage / name for name in (*STATIC, REFERENCE_JSON, REFERENCE_BIN)]
    if vendor_libs:
        for local in VENDORED:
            target = stage / LIBS / local
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(node_modules() / local, target)
            written.append(target)
    return {"files": describe_files(stage, written),
            "libraries": {lib["package"]: lib["version"] for lib in document["libraries"]["scripts"]},
            "vendored": vendor_libs}
