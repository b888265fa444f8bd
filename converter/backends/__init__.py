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
    """The module with `for_artifact`."""
    node_lane: str | None = None
    """The Node host lane its runners share, for JavaScript runtimes."""


RUNTIMES = {
    runtime.name: runtime
    for runtime in (
        Runtime("onnxruntime", "converter.backends.onnxruntime.runner"),
        Runtime("onnxruntime-web", "converter.backends.ortweb.runner", node_lane="ortweb"),
        Runtime("tfjs", "converter.backends.tfjs.runner", node_lane="tfjs"),
    )
}


def make_runner(name: str, artifact, root, runtimes):
    """A runner of runtime `name` for `artifact` (files under `root`)."""
    return importlib.import_module(RUNTIMES[name].module).for_artifact(artifact, root, runtimes)
