"""The runtimes srconvert verifies artifacts in, one ordered registry.

Output targets name their verifying runtimes from `RUNTIMES`. Adding a
runtime is one entry here and one folder with a
`for_artifact(artifact, root, runtimes, **options) -> Runner` function. A
runtime declares its facts here: its lane, and how the versions its host
reported at start-up reach the manifest.
Nothing heavy loads with it: each runner module imports its runtime
(onnxruntime, a Node process) only when a runner is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from converter.backends.chromium import runner as chromium
from converter.backends.chromium.host import ChromiumHost
from converter.backends.ncnn import runner as ncnn
from converter.backends.node.host import NodeHost
from converter.backends.onnxruntime import runner as onnxruntime
from converter.backends.ortweb import runner as ortweb
from converter.backends.tfjs import runner as tfjs
from converter.backends.transformersjs import runner as transformersjs
from converter.backends.upscayl import runner as upscayl
from converter.core.registry import Registry


@dataclass(frozen=True)
class Runtime:
    name: str
    """As targets name it (a runner's report name may add a backend: tfjs-wasm)."""
    for_artifact: Callable[..., Any]
    """`for_artifact(artifact, root, runtimes, **options)`: its runner for an artifact."""
    node_lane: str | None = None
    """The host lane its runners share, for JavaScript runtimes."""
    host: type = NodeHost
    """The class of that lane's host process."""
    options: tuple[tuple[str, str], ...] = ()
    """Keyword arguments for `for_artifact` (which engine and backend)."""
    versions: tuple[tuple[str, str], ...] = ()
    """(manifest key, key its host reported at start-up): the versions the
    manifest records of a run it verified in, read from what it loaded."""
    libraries: tuple[str, ...] = ()
    """The Python distributions it runs in (the manifest records their versions)."""


def _chromium(name: str, for_artifact: Callable[..., Any], backend: str) -> Runtime:
    # One Chromium per run serves all of these (see backends/chromium).
    return Runtime(name, for_artifact, "chromium", ChromiumHost, (("backend", backend),))


RUNTIMES: Registry[Runtime] = Registry("runtime", (
    Runtime("onnxruntime", onnxruntime.for_artifact, libraries=("onnxruntime",)),
    Runtime("onnxruntime-web", ortweb.for_artifact, node_lane="ortweb", versions=(("onnxruntime-web", "ortweb"),)),
    Runtime("tfjs", tfjs.for_artifact, node_lane="tfjs", versions=(("tfjs", "tfjs"), ("tfjs_backend", "backend"))),
    Runtime("transformersjs", transformersjs.for_artifact, node_lane="transformersjs",
            versions=(("transformersjs", "transformersjs"),)),
    _chromium("chromium-webgl", chromium.for_tfjs, "webgl"),
    _chromium("chromium-webgpu", chromium.for_tfjs, "webgpu"),
    _chromium("chromium-ort-wasm", chromium.for_onnx, "wasm"),
    _chromium("chromium-ort-webgpu", chromium.for_onnx, "webgpu"),
    _chromium("chromium-ort-jsep", chromium.for_onnx, "jsep"),
    _chromium("chromium-transformersjs-webgpu", chromium.for_pipeline, "webgpu"),
    _chromium("chromium-transformersjs-wasm", chromium.for_pipeline, "wasm"),
    Runtime("ncnn", ncnn.for_cpu, libraries=("ncnn",)),
    Runtime("ncnn-vulkan", ncnn.for_vulkan, libraries=("ncnn",)),
    Runtime("upscayl-bin", upscayl.for_artifact),
))


def make_runner(name: str, artifact, root, runtimes):
    """A runner of runtime `name` for `artifact` (files under `root`)."""
    runtime = RUNTIMES[name]
    return runtime.for_artifact(artifact, root, runtimes, **dict(runtime.options))


def host_class(lane: str) -> type:
    """The host class of a lane, from the runtimes that use it."""
    return next(r.host for r in RUNTIMES if r.node_lane == lane)
