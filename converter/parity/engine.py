"""Runs every artifact in its real runtimes on the shared parity inputs and
judges it against the reference (after Polygraphy's comparator): runners
produce arrays, `parity.metrics` and `parity.gates` judge them, and nothing
here knows what a runtime is beyond the registry's names.

`convert`, `verify` and `build` all go through `Verification`.
"""

from __future__ import annotations

import statistics
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converter.backends import priority
from converter.backends.base import Runner
from converter.backends.node.host import NodeHost, check_node
from converter.backends.registry import RUNTIMES, host_class, make_runner
from converter.bundle.manifest import Artifact
from converter.core.errors import BadInput, one_line
from converter.core.hashing import sha256_file
from converter.core.input_size import Sizes
from converter.core.precisions import Gate
from converter.core.progress import Progress
from converter.parity import inputs as parity_inputs
from converter.parity import metrics as parity_metrics
from converter.parity.inputs import ParityInput

CLIENT_OVERHEAD = 3.0
"""UpscalerJS's tiled run costs more than its inferences: every tile and
photo shape compiles its own shaders, and it converts pixels around each
tile. Measured: 41 min for the ISR-size RRDN's check on SwiftShader with the
machine loaded, where its inferences are estimated at 9.4 min; rounded down."""
WARMED_BY_FIRST = 3
"""From this many inputs on, the first parity input is the warm-up (the call
that sets up kernels and buffers, timed as `first_ms`) and its output is
judged like the others; below it, a separate warm-up run comes first, so
the timed runs are warm. An unjudged warm-up was a sixth of the work of an
artifact on five inputs."""
SHOWN_SHARE = 0.5
"""Photos are judged as shown (clipped to the pixel range) when at least
this share of the source's output on them lies inside that range."""
VACUOUS_SHARE = 1e-3
"""A reference output whose range is under this share of the input range's
is flat: any artifact would match it, so the check proves nothing."""


@dataclass
class Reference:
    inputs: list[ParityInput]
    outputs: list[np.ndarray]
    value_range: float
    ms: float
    runtime: str
    low: float
    high: float
    extra_outputs: list[np.ndarray] = field(default_factory=list)
    """The outputs on `extra` inputs (see compute_reference)."""
    file: Path | None = None
    """The file the reference's runtime ran as it is (Runner.runs_file), if any."""
    probe_outputs: list[np.ndarray] = field(default_factory=list)
    """The outputs on `probes` (see compute_reference)."""

    def vacuous(self) -> str | None:
        """Why comparing against this reference would prove nothing, or None."""
        span = max(float(i.array.max()) - float(i.array.min()) for i in self.inputs)
        if not all(np.all(np.isfinite(o)) for o in self.outputs):
            return "the source model's own output is not finite (NaN or inf) on the parity inputs"
        if self.high - self.low <= VACUOUS_SHARE * max(span, 1e-12):
            return (f"vacuous check: the source model's output is constant ({self.low:.4g} to {self.high:.4g}) on "
                    "the parity inputs, so any artifact would match it")
        return None


class Runtimes:
    """The runtimes shared by every artifact of a run.

    Each runtime family has a lane: one worker thread that runs its artifacts
    in order. The JavaScript runtimes get a Node process per lane, so TF.js and
    onnxruntime-web verify side by side, and both run while Python is still
    exporting the next format: parity overlaps conversion instead of following it.
    """

    def __init__(self, names: tuple[str, ...] = RUNTIMES.names(), backend: str = "wasm",
                 custom_layers_override: Path | None = None, ort_threads: int = 1) -> None:
        """`names`: the registry's runtimes this run uses. `ort_threads`:
        onnxruntime's intra-op threads. One by default: parity is a check,
        not a benchmark, and the other lanes and the conversion want the cores."""
        self.backend = backend
        self.ort_threads = ort_threads
        self.value_range: tuple[float, float] = (0.0, 1.0)
        """The model's input range (Verification.start sets the run's)."""
        self.custom_layers_override = custom_layers_override
        self._hosts: dict[str, NodeHost] = {}
        for name in names:
            if RUNTIMES[name].node_lane:
                self.host(RUNTIMES[name].node_lane)
        self._lanes: dict[str, ThreadPoolExecutor] = {}

    def host(self, lane: str) -> NodeHost:
        if lane not in self._hosts:
            self._hosts[lane] = host_class(lane)(self.backend, lane)
        return self._hosts[lane]

    def lane(self, name: str) -> ThreadPoolExecutor:
        if name not in self._lanes:
            # A lane computes whenever the conversion leaves a core idle (backends.priority).
            self._lanes[name] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"srconvert-{name}",
                                                   initializer=priority.lower)
        return self._lanes[name]

    def prestart(self) -> None:
        """Start the host processes in the background (Node takes about a
        second, Chromium a few), after checking synchronously that what they
        need is there at all (exit 3 before any work when not)."""
        if self._hosts:
            check_node()
        for name, host in self._hosts.items():
            host.check()
            self.lane(name).submit(host.start)

    def versions(self) -> dict[str, Any]:
        """The versions the runtimes that started in this run reported (and
        only those), under the keys each runtime declares."""
        versions: dict[str, Any] = {}
        for runtime in RUNTIMES:
            host = self._hosts.get(runtime.node_lane) if runtime.node_lane else None
            if host is not None and host.versions:
                versions.update({key: host.versions.get(reported) for key, reported in runtime.versions})
        return versions

    def browser(self) -> dict[str, Any] | None:
        """The browser that ran, and its GPU adapter, where one did."""
        host = self._hosts.get("chromium")
        if host is None or not host.versions:
            return None
        return {key: host.versions.get(key) for key in ("chromium", "tfjs", "ortweb", "webgl", "adapter")}

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.shutdown(wait=True, cancel_futures=True)
        self._lanes.clear()
        for host in self._hosts.values():
            host.close()


def compute_reference(runner: Runner, inputs: list[ParityInput], extra: list[ParityInput] = (),
                      probes: list[np.ndarray] = ()) -> Reference:
    """`runner` may be anything that gives a runner on entering (one made
    lazily). `extra`: inputs that only a later check compares against (a
    release's client check), and `probes`, batches whose outputs a caller
    reads itself (the input range's photo crops: parity.input_range.confirmed);
    both run while the model is loaded, and count towards neither the range
    nor the timings of the parity inputs."""
    outputs, times = [], []
    with runner as active:
        for item in inputs:
            outputs.append(active.run(item.array))
            times.append(active.last_ms)
        extra_outputs = [active.run(item.array) for item in extra]
        probe_outputs = [active.run(batch) for batch in probes]
    low = min(float(o.min()) for o in outputs)
    high = max(float(o.max()) for o in outputs)
    return Reference(
        inputs, outputs, parity_metrics.output_range(outputs), statistics.median(times), active.runtime, low, high,
        extra_outputs, active.runs_file(), probe_outputs,
    )


@dataclass
class Run:
    """One artifact's outputs in one runtime, or why it could not run."""

    runtime: str
    indices: list[int]
    """Which parity inputs ran (all, or the small set)."""
    outputs: list[np.ndarray]
    ms: float | None
    """Median warm inference time."""
    first_ms: float | None = None
    """The first inference: kernel set-up, shader compilation, warm-up."""
    error: str | None = None
    identical: bool = False
    """The artifact is the source file, byte for byte, in the runtime the
    reference ran it in: its outputs are the reference's (not run again)."""
    runner: Any = None
    """The runner that ran it: what it is compared with and by which gate
    (Runner.expected, Runner.gate)."""


def taken(inputs: list[ParityInput], sizes: Any = None) -> list[int]:
    """The inputs an artifact runs: those of sizes it takes (input_size.Sizes;
    None: any), the ones made for a patch only if it is fixed to one (a free
    artifact's own inputs already cover more sizes)."""
    if sizes is None:
        return [i for i, item in enumerate(inputs) if not item.at_patch]
    return [i for i, item in enumerate(inputs)
            if sizes.takes(*item.array.shape[1:3]) and (sizes.fixed is not None or not item.at_patch)]


def small_set(inputs: list[ParityInput], indices: list[int] | None = None) -> list[int]:
    """One random tile and the first photo (of `indices`, default all): what slow runtimes run."""
    indices = list(range(len(inputs))) if indices is None else indices
    randoms = [i for i in indices if not inputs[i].is_photo]
    photos = [i for i in indices if inputs[i].is_photo]
    return [*randoms[:1], *photos[:1]] or indices[:1]


def run_inputs(runner: Runner, inputs: list[ParityInput], sizes: Any = None) -> Run:
    """Any exception a runtime raises (a bad bundle, an op it lacks, a crash)
    fails this artifact in this runtime, by name; it never ends the run.
    `sizes` (input_size.Sizes): the artifact runs only the inputs it takes,
    and fails when it takes none."""
    indices = taken(inputs, sizes)
    if runner.photos_only:
        indices = [i for i in indices if inputs[i].is_photo]
        if not indices:
            return Run(runner.runtime, [], [], None, runner=runner,
                       error="it takes 8-bit images and no parity photo is of a size it takes")
    if not indices:
        return Run(runner.runtime, [], [], None, error=f"no parity input is of a size it takes ({sizes})")
    indices = small_set(inputs, indices) if runner.small_inputs else indices
    try:
        outputs, times = [], []
        with runner:
            if len(indices) < WARMED_BY_FIRST:  # a separate warm-up, so the few timed runs are warm
                runner.run(inputs[indices[0]].array)
                times.append(runner.last_ms)
            for index in indices:
                outputs.append(runner.run(inputs[index].array))
                times.append(runner.last_ms)
    except Exception as exc:  # noqa: BLE001 - every runtime has its own exception types
        message = one_line(exc, 400)
        return Run(runner.runtime, indices, [], None, error=message, runner=runner)
    return Run(runner.runtime, indices, outputs, statistics.median(times[1:]), times[0], runner=runner)


def judge(run: Run, reference: Reference, gate: Gate, pixel_range: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """The parity result of one run against the reference; against a
    vacuous reference, a failure that says why. `pixel_range`: the range
    the model's outputs are shown in, which a gate on photos clips to and
    takes as its peak (core.precisions)."""
    error = run.error or reference.vacuous()
    if error is not None:
        return {"runtime": run.runtime, "pass": False, "error": error, "ms": None}
    references = [reference.outputs[i] for i in run.indices]
    judged_by = None
    if run.runner is not None:  # a runtime whose output format cannot carry the source's own values
        vacuous = run.runner.vacuous(references)
        if vacuous is not None:
            return {"runtime": run.runtime, "pass": False, "error": vacuous, "ms": None}
        references = [run.runner.expected(r) for r in references]
        adjusted = run.runner.gate(gate, reference.value_range)
        gate, judged_by = adjusted, (adjusted if adjusted != gate else None)
    measured, on, noise, shown = _measure(run, reference, references, gate, pixel_range)
    result = {
        "runtime": run.runtime,
        **measured.as_dict(),
        "ms": None if run.ms is None else round(run.ms, 3),
        "first_ms": None if run.first_ms is None else round(run.first_ms, 3),
        "pass": gate.passes(measured),
        "error": None,
        "judged_on": [reference.inputs[run.indices[k]].name for k in on],
    }
    if shown:
        result["clipped_to"] = list(pixel_range)
    if noise is not None:
        result["noise"] = {key: value for key, value in noise.as_dict().items() if key != "output_range"}
    if judged_by is not None:
        result["gate"] = judged_by.as_dict()
    if run.identical:
        result["identical_to_source"] = True
    if len(run.indices) < len(reference.outputs):
        result["inputs"] = [reference.inputs[i].name for i in run.indices]
    return result


def _measure(run: Run, reference: Reference, references: list[np.ndarray], gate: Gate,
             pixel_range: tuple[float, float]):
    """The metrics `gate` judges, the positions in `run.indices` they were
    measured on, for a gate on photos the same run's metrics on the other
    inputs (reported, never gated) or None, and whether the outputs were
    judged as shown (clipped to `pixel_range`, which is then the peak). A run with no photo
    among its inputs is judged on all of them, on the reference's spread,
    and `judged_on` says so by naming them. Photos on which the source's
    output mostly lies outside the pixel range (untrained weights, or a
    range the model was not made for) are compared unclipped, on their own
    spread: as shown, nearly every pixel would be clipped alike, and the
    check would prove nothing."""
    everything = list(range(len(run.indices)))
    photos = [k for k in everything if reference.inputs[run.indices[k]].is_photo]
    if not (gate.on_photos and photos):
        return parity_metrics.compare(references, run.outputs, reference.value_range), everything, None, False
    expected, outputs = [references[k] for k in photos], [run.outputs[k] for k in photos]
    as_shown = parity_metrics.share_inside(expected, pixel_range) >= SHOWN_SHARE
    if as_shown:
        measured = parity_metrics.compare_as_shown(expected, outputs, pixel_range)
    else:  # clipping would hide most of the difference: judged on the photos' own spread
        measured = parity_metrics.compare(expected, outputs, parity_metrics.output_range(expected))
    rest = [k for k in everything if k not in photos]
    noise = (parity_metrics.compare([references[k] for k in rest], [run.outputs[k] for k in rest],
                                    reference.value_range) if rest else None)
    return measured, photos, noise, as_shown


class Verification:
    """Artifacts are submitted as they are written; each runs on its runtimes'
    lanes while the caller goes on, and so does the source model on the
    reference lane. `finish` waits, then judges them all."""

    def __init__(self, inputs: list[ParityInput], root: Path, gates: dict[str, Gate], runtimes: Runtimes,
                 progress: Progress, source: Path | None = None,
                 pixel_range: tuple[float, float] = (0.0, 1.0)) -> None:
        """`source`: the file the run converts, so that an artifact which is
        that file, byte for byte, is not run again where the reference ran it.
        `pixel_range`: the range the model's outputs are shown in (its
        output range), where gates on photos judge them."""
        self.inputs = inputs
        self.pixel_range = tuple(pixel_range)
        self.source = source
        self._source_sha256: str | None = None
        self._reference: Future[Reference] | None = None
        self.root = root
        self.gates = gates
        self.runtimes = runtimes
        self.progress = progress
        self.artifacts: list[Artifact] = []
        """Every artifact submitted, in order."""
        self._pending: list[tuple[Artifact, list[Future[Run]]]] = []
        self._gallery: dict[str, list[np.ndarray]] = {}

    @classmethod
    def start(cls, facts, root: Path, input_range: tuple[float, float], images_dir: Path | None,
              gates: dict[str, Gate], runtimes: Runtimes, progress: Progress,
              images_required: bool = False, patch: Any = None, source: Path | None = None,
              output_range: tuple[float, float] | None = None) -> "Verification":
        """Compute the parity inputs once, for a model with these `facts`
        (`images_required`: the user named `images_dir`, so it must give a
        photo), with inputs at `patch` too (input_size.InputSize) where some
        artifacts are fixed to it. `output_range`: the range the model's
        outputs are shown in, when it is not `input_range`."""
        work = facts.compute.macs_per_pixel if facts.compute is not None else facts.params
        inputs = parity_inputs.build(facts.input_shape, input_range, images_dir, facts.input_multiple, work,
                                     required=images_required, also_at=patch)
        runtimes.value_range = tuple(input_range)  # what a pixel client's 0..255 maps to (backends/transformersjs)
        return cls(inputs, root, gates, runtimes, progress, source, output_range or input_range)

    def check_time(self, runtime_counts: dict[str, int], client=None) -> None:
        """Refuse, before any runtime starts its work, a run whose lanes the
        estimate says cannot finish in reasonable time on this machine
        (converter.core.deadline.LANE_SECONDS, or --max-time): with the estimate,
        and what to do. `runtime_counts`: artifacts per runtime; `client`:
        the release's client check, if one runs."""
        from converter.core import deadline

        clock = deadline.current()
        if clock.compute is None:
            return
        seconds = self.lane_seconds(runtime_counts, client)
        lane, worst = max(seconds.items(), key=lambda item: item[1], default=("", 0.0))
        allowed = clock.max_time if clock.max_time is not None else deadline.LANE_SECONDS
        if worst <= allowed:
            return
        browser = lane == "chromium"
        where = ("Chromium, on a software renderer (no GPU)" if browser and self._software_browser()
                 else f"the {lane} lane")
        allow = f"allow it with --max-time {int(worst * 1.5)}"
        raise BadInput(
            f"parity in {where} would take about {deadline.estimate_text(worst)} on this machine "
            f"(estimated from the model's {clock.compute.text()}), over the {deadline.estimate_text(allowed)} "
            "a run may take; no artifact was verified and nothing was written",
            hint=(f"run --browser on a machine with a GPU, leave --browser out, or {allow}" if browser
                  else allow))

    def lane_seconds(self, runtime_counts: dict[str, int], client=None) -> dict[str, float]:
        """The estimated seconds of each lane's parity work (converter.core.deadline.SPEEDS)."""
        from converter.core import deadline

        clock = deadline.current()
        seconds: dict[str, float] = {}
        for name, count in runtime_counts.items():  # every input, the patch's too: an upper bound
            lane = RUNTIMES[name].node_lane or "local"
            indices = small_set(self.inputs) if lane == "chromium" else list(range(len(self.inputs)))
            speed = self._speed(lane, name)
            warm_up = [indices[0]] if len(indices) < WARMED_BY_FIRST else []
            one = sum(clock.inference(_pixels(self.inputs[i]), speed) for i in [*warm_up, *indices])
            seconds[lane] = seconds.get(lane, 0.0) + count * one
        if client is not None:
            seconds["chromium"] = seconds.get("chromium", 0.0) + self._client_seconds(client)
        return seconds

    def _client_seconds(self, client) -> float:
        """The client check: whole-image inference of each photo, then tiled
        (each tile an inference; tiles overlap by the padding), times
        CLIENT_OVERHEAD."""
        from converter.core import deadline

        clock = deadline.current()
        speed = self._speed("chromium", "upscalerjs-webgl")
        total = 0.0
        size, padding = client.tiling.patch_size, client.tiling.padding
        for photo in client.photos:
            height, width = photo.pixels.shape[1:3]
            total += clock.inference(height * width, speed)
            tiles = -(-height // size) * -(-width // size)
            total += tiles * clock.inference((size + 2 * padding) ** 2, speed)
        return CLIENT_OVERHEAD * total

    def _speed(self, lane: str, runtime: str) -> str:
        from converter.backends.chromium.runner import browser_speed

        if lane == "chromium":
            return browser_speed(self._browser_host(), runtime)
        return "cpu" if lane == "local" else "wasm"

    def _browser_host(self):
        host = self.runtimes.host("chromium")
        self.runtimes.lane("chromium").submit(lambda: None).result()  # prestart's launch has finished
        return host

    def _software_browser(self) -> bool:
        from converter.backends.chromium.runner import software_adapter

        return software_adapter(self._browser_host().versions)

    def start_reference(self, runner: Runner, extra: list[ParityInput] = (), probes: list[np.ndarray] = ()) -> None:
        """Run the source model on the inputs (and `extra`, `probes`: see compute_reference), on its own lane."""
        self._reference = self.runtimes.lane("reference").submit(compute_reference, runner, self.inputs, extra,
                                                                 probes)

    @property
    def reference(self) -> Reference:
        if self._reference is None:
            raise RuntimeError("Verification.reference before start_reference")
        return self._reference.result()

    def submit(self, artifact: Artifact, runtime_names: tuple[str, ...]) -> None:
        """Run `artifact` in each runtime, except those it is exempt from."""
        exempt = artifact.unsupported_backends or {}
        runners = [make_runner(name, artifact, self.root, self.runtimes) for name in runtime_names if name not in exempt]
        futures = [self.runtimes.lane(r.lane).submit(self._run, artifact, r) for r in runners]
        self._pending.append((artifact, futures))
        self.artifacts.append(artifact)

    def finish(self) -> dict[str, Any]:
        """Wait for every submitted artifact, fill its `parity` and return
        the run's summary."""
        passed, self._gallery = self._judge_all()
        reference = self.reference
        return {
            "verified": True,
            "pass": passed,
            "reference": {
                "runtime": reference.runtime,
                "ms": round(reference.ms, 3),
                "output_range": reference.value_range,
                "pixel_range": list(self.pixel_range),
                "low": reference.low,
                "high": reference.high,
                "inputs": [{"name": i.name, "shape": list(i.array.shape), **({"photo": True} if i.is_photo else {}),
                            **({"at_patch": True} if i.at_patch else {})}
                           for i in reference.inputs],
            },
        }

    def write_html(self, path: Path, head: list[str] = ()) -> None:
        """parity.html, after `finish`, under `head` (the headline)."""
        _write_html(path, self.reference, self._gallery, self.artifacts, head)

    def check_client(self, check, package: Path, precision: str) -> dict[str, Any]:
        """Run a release's npm package in its client (parity.client), on the
        browser lane, against the source's outputs on the check's photos."""
        from converter.backends.chromium.upscalerjs import UpscalerJSRunner
        from converter.parity.client import BACKEND

        runner = UpscalerJSRunner(self.runtimes.host(UpscalerJSRunner.lane), package, BACKEND)
        job = self.runtimes.lane(runner.lane).submit(check.run, runner, self.reference.extra_outputs,
                                                     self.gates[precision])
        return job.result()

    def _judge_all(self) -> tuple[bool, dict[str, list[np.ndarray]]]:
        """Whether all pass, and each "entry in runtime"'s outputs for the
        photo inputs (for parity.html)."""
        photos = [i for i, item in enumerate(self.inputs) if item.is_photo]
        gallery: dict[str, list[np.ndarray]] = {}
        judged, self._pending = self._pending, []
        for artifact, futures in judged:
            gate = self.gates[artifact.precision]
            results = []
            for future in futures:
                run = future.result()
                results.append(judge(run, self.reference, gate, self.pixel_range))
                self.progress.step(f"{artifact.name} in {run.runtime}: {_outcome(results[-1])}")
                shown = {photos.index(i): out for i, out in zip(run.indices, run.outputs) if i in photos}
                if shown:
                    gallery[f"{artifact.entry} in {run.runtime}"] = shown
            artifact.parity = {"pass": all(r["pass"] for r in results), "gate": gate.as_dict(), "results": results}
        return all(artifact.parity["pass"] for artifact, _ in judged), gallery

    def _run(self, artifact: Artifact, runner: Runner) -> Run:
        sizes = Sizes.from_dict(artifact.input_sizes)
        if self._is_source_file(artifact, runner):
            reference = self.reference  # started before the targets: the runtime it ran in decides
            if reference.file == self.source and reference.runtime == runner.runtime:
                indices = taken(self.inputs, sizes)
                return Run(runner.runtime, indices, [reference.outputs[i] for i in indices], None, identical=True)
        self.progress.step(f"verifying {artifact.name} in {runner.runtime}")
        return run_inputs(runner, self.inputs, sizes)

    def _is_source_file(self, artifact: Artifact, runner: Runner) -> bool:
        """Whether `runner` would run the source file itself: the artifact is
        one file with the source's bytes (an ONNX source written unchanged).
        Running it again beside the reference could not fail, so it proves
        nothing; the report says it is the source instead."""
        if self.source is None or self._reference is None or runner.runs_file() is None or len(artifact.files) != 1:
            return False
        if not self.source.is_file() or self.source.stat().st_size != artifact.files[0]["bytes"]:
            return False
        if self._source_sha256 is None:
            self._source_sha256 = sha256_file(self.source)
        return artifact.files[0]["sha256"] == self._source_sha256


def _pixels(item: ParityInput) -> int:
    return int(item.array.shape[1] * item.array.shape[2])


def _outcome(result: dict[str, Any]) -> str:
    """A result in a few words, for progress lines and parity.html."""
    if result.get("error"):
        return f"FAIL ({result['error']})"
    if result.get("identical_to_source"):
        return "pass (the source file itself, byte for byte: its outputs here are the reference's)"
    verdict = "pass" if result["pass"] else "FAIL"
    return f"{verdict} (PSNR {parity_metrics.psnr_text(result)} dB, max abs {result['max_abs']:.2e})"


def _write_html(path: Path, reference: Reference, gallery, artifacts: list[Artifact], head: list[str]) -> None:
    from converter.parity import html

    photos = [(i.name, i.array, o) for i, o in zip(reference.inputs, reference.outputs) if i.is_photo]
    summaries = {}
    for artifact in artifacts:
        for result in artifact.parity["results"]:
            summaries[f"{artifact.entry} in {result['runtime']}"] = _outcome(result)
    html.write(path, photos, gallery, summaries, reference.low, reference.high, head)
