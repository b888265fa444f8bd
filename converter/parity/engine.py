"""Runs every artifact in its real runtime on the shared parity inputs and
judges it against the reference: runners produce arrays, `parity.metrics`
and `parity.gates` judge them."""

from __future__ import annotations

import statistics
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.backends.base import Runner
from converter.backends.node.host import NodeError, NodeHost, check_node
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
    """The runtimes shared by every artifact of a run.

    Each runtime family has a lane: one worker thread that runs its artifacts
    in order. The two JavaScript runtimes get a Node process each, so TF.js and
    onnxruntime-web verify side by side, and both run while Python is still
    exporting the next format: parity overlaps conversion instead of following it.
    """

    NODE_LANES = ("tfjs", "ortweb")

    def __init__(self, backend: str = "wasm", custom_layers_override: Path | None = None, ort_threads: int = 1) -> None:
        """`ort_threads`: onnxruntime's intra-op threads. One by default:
        parity is a check, not a benchmark, and the other lanes and the
        conversion itself want the other cores."""
        self.backend = backend
        self.ort_threads = ort_threads
        self.custom_layers_override = custom_layers_override
        self.hosts = {lane: NodeHost(backend) for lane in self.NODE_LANES}
        self._lanes: dict[str, ThreadPoolExecutor] = {}

    def lane(self, name: str) -> ThreadPoolExecutor:
        if name not in self._lanes:
            self._lanes[name] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"srconvert-{name}")
        return self._lanes[name]

    def prestart(self) -> None:
        """Start the Node processes in the background (they take about a
        second), after checking synchronously that Node is there at all."""
        check_node()
        for name, host in self.hosts.items():
            self.lane(name).submit(host.start)

    def versions(self) -> dict[str, Any]:
        tfjs, ortweb = (self.hosts[lane].versions for lane in self.NODE_LANES)
        if not tfjs and not ortweb:
            return {}
        return {"tfjs": tfjs.get("tfjs"), "tfjs_backend": self.backend, "onnxruntime-web": ortweb.get("ortweb")}

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.shutdown(wait=True, cancel_futures=True)
        self._lanes.clear()
        for host in self.hosts.values():
            host.close()


def runners_for(artifact: Artifact, root: Path, context: RuntimeContext, custom_layers_cjs: Path | None) -> list[Runner]:
    entry = root / artifact.entry
    if artifact.format == "tfjs-layers":
        js = context.custom_layers_override or custom_layers_cjs
        return [TfjsRunner(context.hosts["tfjs"], entry, "layers", js)]
    if artifact.format == "tfjs-graph":
        return [TfjsRunner(context.hosts["tfjs"], entry, "graph", None)]
    if artifact.format == "onnx":
        return [
            OnnxRuntimeRunner(entry, artifact.layout, context.ort_threads),
            OrtWebRunner(context.hosts["ortweb"], entry, artifact.layout),
        ]
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


@dataclass
class Run:
    """One artifact's outputs in one runtime, or why it could not run."""

    runtime: str
    outputs: list[np.ndarray]
    ms: float | None
    error: str | None = None


def run_inputs(runner: Runner, inputs: list[ParityInput]) -> Run:
    try:
        outputs, times = [], []
        with runner:
            runner.infer(inputs[0].array)  # warm-up: the first call sets up kernels and buffers
            for item in inputs:
                outputs.append(runner.infer(item.array))
                times.append(runner.last_ms)
    except NodeError as exc:
        return Run(runner.runtime, [], None, str(exc))
    return Run(runner.runtime, outputs, statistics.median(times))


def judge(run: Run, reference: Reference, gate: Gate) -> dict[str, Any]:
    """The parity result of one run against the reference."""
    if run.error is not None:
        return {"runtime": run.runtime, "pass": False, "error": run.error, "ms": None}
    measured = parity_metrics.compare(reference.outputs, run.outputs, reference.value_range)
    return {
        "runtime": run.runtime,
        **measured.as_dict(),
        "ms": round(run.ms, 3),
        "pass": gate.passes(measured),
        "error": None,
    }


class Verification:
    """Artifacts are submitted as they are written; each runs on its runtime's
    lane while the caller goes on, and so does the source model on the
    reference lane. `finish` waits, then judges them all."""

    def __init__(self, inputs: list[ParityInput], root: Path, gates: dict[str, Gate], context: RuntimeContext,
                 progress: Progress) -> None:
        self.inputs = inputs
        self._reference: Future[Reference] | None = None
        self.root = root
        self.gates = gates
        self.context = context
        self.progress = progress
        self.artifacts: list[Artifact] = []
        """Every artifact submitted, in order."""
        self._pending: list[tuple[Artifact, list[Future[Run]]]] = []

    def start_reference(self, runner: Runner) -> None:
        """Run the source model on the inputs, on its own lane."""
        self._reference = self.context.lane("reference").submit(compute_reference, runner, self.inputs)

    @property
    def reference(self) -> Reference:
        if self._reference is None:
            raise RuntimeError("Verification.reference before start_reference")
        return self._reference.result()

    def submit(self, artifacts: list[Artifact], custom_layers_cjs: Path | None = None) -> None:
        for artifact in artifacts:
            runners = runners_for(artifact, self.root, self.context, custom_layers_cjs)
            futures = [self.context.lane(r.lane).submit(self._run, artifact, r) for r in runners]
            self._pending.append((artifact, futures))
            self.artifacts.append(artifact)

    def finish(self) -> tuple[bool, dict[str, list[np.ndarray]]]:
        """Fill every artifact's `parity`. Returns whether all pass, and each
        "entry in runtime"'s outputs for the photo inputs (for parity.html)."""
        photos = [i for i, item in enumerate(self.inputs) if item.is_photo]
        gallery: dict[str, list[np.ndarray]] = {}
        judged, self._pending = self._pending, []
        for artifact, futures in judged:
            gate = self.gates[artifact.precision]
            results = []
            for future in futures:
                run = future.result()
                results.append(judge(run, self.reference, gate))
                if run.outputs:
                    gallery[f"{artifact.entry} in {run.runtime}"] = [run.outputs[i] for i in photos]
            artifact.parity = {"pass": all(r["pass"] for r in results), "gate": gate.as_dict(), "results": results}
        return all(artifact.parity["pass"] for artifact, _ in judged), gallery

    def _run(self, artifact: Artifact, runner: Runner) -> Run:
        self.progress.step(f"verifying {artifact.name} in {runner.runtime}")
        return run_inputs(runner, self.inputs)
