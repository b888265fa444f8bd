"""Runs every artifact in its real runtime on the shared parity inputs and
judges it against the reference: runners produce arrays, `parity.metrics`
and `parity.gates` judge them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.backends.base import Runner
from converter.backends.node.host import NodeError, NodeHost
from converter.backends.onnxruntime.runner import OnnxRuntimeRunner
from converter.backends.ortweb.runner import OrtWebRunner
from converter.backends.tfjs.runner import TfjsRunner
from converter.manifest import Artifact
from converter.parity import metrics as parity_metrics
from converter.parity.gates import Gate
from converter.parity.inputs import ParityInput
from converter.progress import Progress


@dataclass
class Reference:
    inputs: list[ParityInput]
    outputs: list[np.ndarray]
    value_range: float
    ms: float
    runtime: str
    low: float
    high: float


class RuntimeContext:
    """Runtimes shared by every artifact of a run, started on first use."""

    def __init__(self, backend: str = "wasm", custom_layers_override: Path | None = None) -> None:
        self.backend = backend
        self.custom_layers_override = custom_layers_override
        self._host: NodeHost | None = None

    @property
    def host(self) -> NodeHost:
        if self._host is None:
            self._host = NodeHost(self.backend).start()
        return self._host

    def versions(self) -> dict[str, Any]:
        if self._host is None:
            return {}
        versions = self._host.versions
        return {"tfjs": versions.get("tfjs"), "tfjs_backend": self.backend, "onnxruntime-web": versions.get("ortweb")}

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None


def runners_for(artifact: Artifact, root: Path, context: RuntimeContext, custom_layers_cjs: Path | None) -> list[Runner]:
    entry = root / artifact.entry
    if artifact.format == "tfjs-layers":
        js = context.custom_layers_override or custom_layers_cjs
        return [TfjsRunner(context.host, entry, "layers", js)]
    if artifact.format == "tfjs-graph":
        return [TfjsRunner(context.host, entry, "graph", None)]
    if artifact.format == "onnx":
        return [OnnxRuntimeRunner(entry, artifact.layout), OrtWebRunner(context.host, entry, artifact.layout)]
    raise ValueError(f"no runtime for artifact format {artifact.format}")


def compute_reference(runner: Runner, inputs: list[ParityInput]) -> Reference:
    outputs, times = [], []
    with runner:
        for item in inputs:
            outputs.append(runner.infer(item.array))
            times.append(runner.last_ms)
    low = min(float(o.min()) for o in outputs)
    high = max(float(o.max()) for o in outputs)
    return Reference(
        inputs, outputs, parity_metrics.output_range(outputs), statistics.median(times), runner.runtime, low, high
    )


def run_artifact(runner: Runner, reference: Reference, gate: Gate) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The artifact's parity result in one runtime, and its outputs."""
    try:
        outputs, times = [], []
        with runner:
            runner.infer(reference.inputs[0].array)  # warm-up: first call compiles kernels
            for item in reference.inputs:
                outputs.append(runner.infer(item.array))
                times.append(runner.last_ms)
    except NodeError as exc:
        return {"runtime": runner.runtime, "pass": False, "error": str(exc), "ms": None}, []
    measured = parity_metrics.compare(reference.outputs, outputs, reference.value_range)
    result = {
        "runtime": runner.runtime,
        **measured.as_dict(),
        "ms": round(statistics.median(times), 3),
        "pass": gate.passes(measured),
        "error": None,
    }
    return result, outputs


def verify(
    artifacts: list[Artifact],
    root: Path,
    reference: Reference,
    gates: dict[str, Gate],
    context: RuntimeContext,
    custom_layers_cjs: Path | None,
    progress: Progress,
) -> tuple[bool, dict[str, list[np.ndarray]]]:
    """Fill every artifact's `parity`. Returns whether all pass, and each
    "entry in runtime"'s outputs for the photo inputs (for parity.html)."""
    photos = [i for i, item in enumerate(reference.inputs) if item.is_photo]
    gallery: dict[str, list[np.ndarray]] = {}
    for artifact in artifacts:
        gate = gates[artifact.precision]
        results = []
        for runner in runners_for(artifact, root, context, custom_layers_cjs):
            progress.step(f"verifying {artifact.name} in {runner.runtime}")
            result, outputs = run_artifact(runner, reference, gate)
            results.append(result)
            if outputs:
                gallery[f"{artifact.entry} in {runner.runtime}"] = [outputs[i] for i in photos]
        artifact.parity = {
            "pass": all(r["pass"] for r in results),
            "gate": gate.as_dict(),
            "results": results,
        }
    return all(a.parity["pass"] for a in artifacts), gallery
