"""Runtime runners, one folder per runtime: each holds what it takes to load
an artifact into that runtime and run it behind `base.Runner`.

`RUNTIMES` is the registry output targets name their verifying runtimes
from. Adding a runtime is one entry here and one module with a
`for_artifact(artifact, root, runtimes) -> Runner` function; nothing is
imported until a runner is made, so the registry is free to read.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    name: str
    """As targets name it (a runner's report name may add a backend: tfjs-wasm)."""
    module: str
    """The module with `for_artifact(artifact, root, runtimes, **options)`."""
    node_lane: str | None = None
    """The host lane its runners share, for JavaScript runtimes."""
    host: str = "converter.backends.node.host:NodeHost"
    """The class of that lane's host process."""
    options: tuple[tuple[str, str], ...] = ()
    """Keyword arguments for `for_artifact` (which engine and backend)."""


_CHROMIUM = dict(module="converter.backends.chromium.runner", node_lane="chromium",
                 host="converter.backends.chromium.host:ChromiumHost")

RUNTIMES = {
    runtime.name: runtime
    for runtime in (
        Runtime("onnxruntime", "converter.backends.onnxruntime.runner"),
        Runtime("onnxruntime-web", "converter.backends.ortweb.runner", node_lane="ortweb"),
        Runtime("tfjs", "converter.backends.tfjs.runner", node_lane="tfjs"),
        # One Chromium per run serves all four (see backends/chromium).
        Runtime("chromium-webgl", options=(("engine", "tfjs"), ("backend", "webgl")), **_CHROMIUM),
        Runtime("chromium-webgpu", options=(("engine", "tfjs"), ("backend", "webgpu")), **_CHROMIUM),
        Runtime("chromium-ort-wasm", options=(("engine", "onnx"), ("backend", "wasm")), **_CHROMIUM),
        Runtime("chromium-ort-webgpu", options=(("engine", "onnx"), ("backend", "webgpu")), **_CHROMIUM),
        Runtime("chromium-ort-jsep", options=(("engine", "onnx"), ("backend", "jsep")), **_CHROMIUM),
    )
}


def make_runner(name: str, artifact, root, runtimes):
    """A runner of runtime `name` for `artifact` (files under `root`)."""
    runtime = RUNTIMES[name]
    return importlib.import_module(runtime.module).for_artifact(artifact, root, runtimes, **dict(runtime.options))


def host_class(lane: str) -> type:
    """The host class of a lane, from the runtimes that use it."""
    path = next(r.host for r in RUNTIMES.values() if r.node_lane == lane)
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
