"""Running the source and an artifact on the parity inputs: the arrays a
comparison takes (`Reference`, `Run`). A runtime's failure is a `Run` with
its error, never an exception that ends the run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converter.backends.base import Runner
from converter.core.errors import one_line
from converter.parity import metrics as parity_metrics
from converter.parity.inputs import ParityInput

WARMED_BY_FIRST = 3
"""From this many inputs on, the first parity input is the warm-up (the call
that sets up kernels and buffers, timed as `first_ms`) and its output is
judged like the others; below it, a separate warm-up run comes first, so
the timed runs are warm. An unjudged warm-up was a sixth of the work of an
artifact on five inputs."""
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


def reflect_padded(runner: Runner, inputs: list[ParityInput], padding: int) -> list[np.ndarray | None]:
    """The source's output on each photo of `inputs` padded by `padding`
    pixels by reflection (numpy's "reflect": the edge pixel is not repeated),
    cropped back to the photo's own (Runner.reflect_padding); None for the
    other inputs. `runner` as in compute_reference."""
    outputs: list[np.ndarray | None] = []
    with runner as active:
        for item in inputs:
            if not item.is_photo:
                outputs.append(None)
                continue
            padded = np.pad(item.array, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode="reflect")
            out = active.run(padded)
            edge = padding * (out.shape[1] // padded.shape[1])
            outputs.append(out[:, edge:out.shape[1] - edge, edge:out.shape[2] - edge])
    return outputs


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
