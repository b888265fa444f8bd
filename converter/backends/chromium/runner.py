"""An artifact in a real browser page: TF.js on webgl or webgpu, or
onnxruntime-web: its `onnxruntime-web/webgpu` build on wasm or webgpu (the
native WebGPU execution provider), or its default build's WebGPU provider
(JSEP, `chromium-ort-jsep`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.backends.node.host import NodeHost
from converter.backends.node.runner import NodeRunner
from converter.backends.transformersjs import DTYPE_OF_FILE
from converter.backends.transformersjs.runner import PixelPipeline
from converter.bundle.custom_layers_js import ESM_NAME
from converter.graphs.layout import from_layout, to_layout


class ChromiumRunner(NodeRunner):
    lane = "chromium"
    small_inputs = True

    def __init__(self, host: NodeHost, entry: Path, kind: str, custom_layers_js: Path | None, backend: str,
                 layout: str, runtime: str) -> None:
        super().__init__(host, entry, kind, custom_layers_js)
        self.load_fields = {"backend": backend}
        self.layout = layout
        self.runtime = runtime

    @property
    def speed(self) -> str:
        return browser_speed(self.host, self.runtime)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return from_layout(super().infer(to_layout(batch, self.layout)), self.layout)


def browser_speed(host: NodeHost, runtime: str) -> str:
    """converter.core.deadline's speed for `runtime` in this browser: wasm runs
    on the CPU; WebGL and WebGPU on the GPU adapter, or on SwiftShader, the
    software one a machine without a GPU gets."""
    if runtime.endswith("-wasm"):
        return "wasm"
    if not software_adapter(host.versions):
        return "gpu"
    return "software-webgl" if runtime.endswith("-webgl") else "software-webgpu"


def software_adapter(versions: dict) -> bool:
    """Whether the browser renders on the CPU (SwiftShader, llvmpipe); true
    until the browser has said otherwise."""
    described = " ".join(str(v) for v in [versions.get("webgl"), *(versions.get("adapter") or {}).values()])
    return not versions or any(name in described.lower() for name in ("swiftshader", "llvmpipe", "software"))


class ChromiumPipelineRunner(PixelPipeline, ChromiumRunner):
    """A transformers.js folder through the pipeline in the page, on the
    `device` transformers.js calls `backend` (webgpu, wasm)."""

    def __init__(self, host: NodeHost, folder: Path, dtype: str, backend: str, value_range) -> None:
        super().__init__(host, folder, "transformersjs", None, backend, "nhwc", f"chromium-transformersjs-{backend}")
        self.load_fields["dtype"] = dtype
        self.low, self.high = value_range

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.from_pixels(super().infer(self.to_pixels(batch)))


def for_pipeline(artifact, root: Path, runtimes, backend: str) -> ChromiumRunner:
    """A transformers.js folder, through the pipeline in the page."""
    entry = root / artifact.entry
    return ChromiumPipelineRunner(runtimes.host(ChromiumRunner.lane), root / Path(artifact.entry).parts[0],
                                  DTYPE_OF_FILE[entry.name], backend, tuple(runtimes.value_range))


def for_onnx(artifact, root: Path, runtimes, backend: str) -> ChromiumRunner:
    """An ONNX file in onnxruntime-web in the page."""
    return ChromiumRunner(runtimes.host(ChromiumRunner.lane), root / artifact.entry, "onnx", None, backend,
                          artifact.layout, f"chromium-ort-{backend}")


def for_tfjs(artifact, root: Path, runtimes, backend: str) -> ChromiumRunner:
    """A TF.js model in TF.js in the page, loaded as its model.json says."""
    from converter.backends.tfjs.runner import model_kind

    entry = root / artifact.entry
    kind = model_kind(entry)
    # A page imports the ES module twin of the custom layers, as a web app does.
    layers_js = next((root / f["path"] for f in artifact.files if f["path"].endswith("/" + ESM_NAME)), None)
    return ChromiumRunner(runtimes.host(ChromiumRunner.lane), entry, kind, layers_js if kind == "layers" else None,
                          backend, "nhwc", f"chromium-{backend}")
