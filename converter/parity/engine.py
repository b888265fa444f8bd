"""Runs every artifact in its real runtimes on the shared parity inputs and
judges it against the reference, after Polygraphy's split: the lanes and
host processes are the backends' (`backends.lanes`), runners produce arrays
(`parity.runs`), the comparator judges them (`parity.compare`), and the
gallery is a report (`parity.html`). What is left here is the order of
things: the inputs, the reference, each artifact's runs, the verdict.

`convert`, `verify` and `build` all go through `Verification`.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from converter.backends.base import Runner
from converter.backends.lanes import Runtimes
from converter.backends.registry import RUNTIMES, make_runner
from converter.bundle.manifest import Artifact
from converter.core.hashing import sha256_file
from converter.core.input_size import Sizes
from converter.core.precisions import Gate
from converter.core.progress import Progress
from converter.parity import inputs as parity_inputs
from converter.parity.compare import judge, outcome
from converter.parity.inputs import ParityInput
from converter.parity.runs import (WARMED_BY_FIRST, Reference, Run, compute_reference, reflect_padded, run_inputs,
                                   small_set, taken)

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
        self._reference_runner: Runner | None = None
        self._padded: dict[int, Future[list]] = {}

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
        (core.deadline.Clock.check_lanes). `runtime_counts`: artifacts per
        runtime; `client`: the release's client check, if one runs."""
        from converter.core import deadline

        if deadline.current().compute is None:
            return
        deadline.current().check_lanes(self.lane_seconds(runtime_counts, client), self._lane_name)

    def _lane_name(self, lane: str) -> str:
        """How the time refusal names a lane."""
        if lane == "chromium" and self._software_browser():
            return "Chromium, on a software renderer (no GPU)"
        return f"the {lane} lane"

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
            seconds["chromium"] = seconds.get("chromium", 0.0) + client.seconds(
                clock, self._speed("chromium", "upscalerjs-webgl"))
        return seconds

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
        self._reference_runner = runner
        self._reference = self.runtimes.lane("reference").submit(compute_reference, runner, self.inputs, extra,
                                                                 probes)

    def _reference_for(self, runner: Runner | None) -> Reference:
        """What `runner`'s outputs are compared with: the reference, or for a
        runtime that pads the image's edges itself, the source run on the
        photos padded alike (loaded again, once per padding, on its lane)."""
        padding = runner.reflect_padding if runner is not None else 0
        if not padding:
            return self.reference
        padded = self._padded_reference(padding).result()
        outputs = [p if p is not None else o for p, o in zip(padded, self.reference.outputs)]
        return dataclasses.replace(self.reference, outputs=outputs)

    def _padded_reference(self, padding: int) -> Future[list]:
        if padding not in self._padded:
            self._padded[padding] = self.runtimes.lane("reference").submit(
                reflect_padded, self._reference_runner, self.inputs, padding)
        return self._padded[padding]

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
        for padding in {r.reflect_padding for r in runners} - {0}:  # computed while the runtimes run
            self._padded_reference(padding)
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
        from converter.parity import html

        html.write_gallery(path, self.reference, self._gallery, self.artifacts, head)

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
                results.append(judge(run, self._reference_for(run.runner), gate, self.pixel_range))
                self.progress.step(f"{artifact.name} in {run.runtime}: {outcome(results[-1])}")
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
