"""The run's time budget: every runtime call runs under a deadline derived
from the work it is given.

A call's deadline is

    FLOOR_SECONDS + SAFETY x its estimated seconds

capped at CEILING_SECONDS. An inference's estimate comes from the model's
work (converter.graphs.compute: MACs per input pixel, times the call's pixels, and
its node count) at its runtime's speed (SPEEDS, measured on this project's CI
machine class, 2 cores and no GPU, and rounded towards slow). So a call that should take one second gets 2 min 10 s, and a
legitimately heavy model gets a deadline that grows with it; only a call
doing far more work than its graph declares (a loop whose count is computed
at run time, a runtime stuck in a kernel) meets one.

`--max-time SECONDS` sets a limit on the whole run instead: every call may
then use what remains of it, however its estimate reads. The manifest
records a user-set limit; a derived one depends on the machine and is not
recorded there.

Past a deadline the run stops as it does past its memory budget
(memory.guard, whose watcher checks the open calls every 50 ms): runtimes
killed, staging removed, exit 2, one line naming the step and its budget.
"""

from __future__ import annotations

import itertools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from converter.core.errors import BadInput

FLOOR_SECONDS = 120.0
"""Loading a runtime, compiling kernels and shaders, a cold disk: the
fixed cost no estimate sees. The slowest seen: Chromium's first WebGPU
pipeline on SwiftShader, about 20 s."""
CEILING_SECONDS = 4 * 3600.0
SAFETY = 10.0


@dataclass(frozen=True)
class Speed:
    """How fast a runtime runs one inference: its MACs per second on heavy
    convolutions, plus a fixed cost per node (kernel dispatch, which
    dominates on a software GPU)."""

    macs_per_second: float
    seconds_per_node: float

    def seconds(self, macs: float, nodes: int) -> float:
        return nodes * self.seconds_per_node + macs / self.macs_per_second


# Measured on the CI machine class (2 cores, no GPU) with an ISR-size RRDN
# (4.2 M MACs per input pixel, about 600 layers) at its parity sizes, and
# with the fixture RRDN (60 layers) for the per-node cost; rounded towards slow.
SPEEDS = {
    "cpu": Speed(4e9, 1e-5),               # onnxruntime 4.2 GMAC/s, TensorFlow
    "wasm": Speed(9e8, 1e-4),              # tfjs-wasm 1.8, onnxruntime-web 1.2, in Chromium 0.9 GMAC/s
    "software-webgl": Speed(7.5e8, 0.015),  # SwiftShader: 17 s for 64x48 on the RRDN, 9 s at 13x12
    "software-webgpu": Speed(3e8, 0.06),   # SwiftShader: 38 s at 13x12 on the RRDN (onnxruntime-web's: 21-29 s)
    "gpu": Speed(2e10, 1e-3),              # a real GPU adapter in Chromium: not measured here, an assumption
}
LANE_SECONDS = 20 * 60.0
"""A run whose parity lanes are estimated (at SPEEDS) to need longer than
this is refused before they start, unless --max-time allows it."""
MAX_TIME_HINT = "if the model is genuine, give the run more time with --max-time SECONDS"


@dataclass(frozen=True)
class Call:
    step: str
    started: float
    seconds: float
    origin: str
    """"derived" (from the estimate) or "--max-time"."""


class Clock:
    """The run's deadlines. One per process; `current()` gives it."""

    def __init__(self, max_time: float | None = None) -> None:
        self.max_time = max_time
        self.started = time.monotonic()
        self.compute = None
        """converter.graphs.compute.Compute of the model the run converts, once known."""
        self._open: dict[int, Call] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def deadline_for(self, estimate: float) -> float:
        """A call's deadline for work estimated at `estimate` seconds."""
        return min(CEILING_SECONDS, FLOOR_SECONDS + SAFETY * estimate)

    def inference(self, pixels: float, speed: str = "cpu", compute=None) -> float:
        """The estimated seconds of one inference on `pixels` input pixels
        at `speed` (0 until the model's work is known)."""
        compute = compute or self.compute
        if compute is None:
            return 0.0
        return SPEEDS[speed].seconds(compute.macs(pixels), compute.nodes)

    def check_lanes(self, seconds: dict[str, float], name: Callable[[str], str]) -> None:
        """Refuse (BadInput) a run whose slowest lane, by the estimated
        `seconds` per lane, would take over LANE_SECONDS (or --max-time),
        before any work starts there; `name(lane)`: how the message names it."""
        lane, worst = max(seconds.items(), key=lambda item: item[1], default=("", 0.0))
        allowed = self.max_time if self.max_time is not None else LANE_SECONDS
        if worst <= allowed:
            return
        allow = f"allow it with --max-time {int(worst * 1.5)}"
        raise BadInput(
            f"parity in {name(lane)} would take about {estimate_text(worst)} on this machine "
            f"(estimated from the model's {self.compute.text()}), over the {estimate_text(allowed)} "
            "a run may take; no artifact was verified and nothing was written",
            hint=(f"run --browser on a machine with a GPU, leave --browser out, or {allow}" if lane == "chromium"
                  else allow))

    def remaining(self) -> float | None:
        if self.max_time is None:
            return None
        return self.max_time - (time.monotonic() - self.started)

    @contextmanager
    def call(self, step: str, estimate: float = 0.0) -> Iterator[None]:
        """Run the block under the deadline its `estimate` (seconds) gives."""
        now = time.monotonic()
        if self.max_time is not None:
            call = Call(step, now, self.max_time - (now - self.started), "--max-time")
        else:
            call = Call(step, now, self.deadline_for(estimate), "derived")
        key = next(self._ids)
        with self._lock:
            self._open[key] = call
        try:
            yield
        finally:
            with self._lock:
                self._open.pop(key, None)

    def overdue(self, source: Path | None = None) -> BadInput | None:
        """The error for the first open call past its deadline (or the
        whole run past --max-time), else None. Called by the watcher."""
        now = time.monotonic()
        with self._lock:
            calls = list(self._open.values())
        late = next((c for c in calls if now - c.started > c.seconds), None)
        if late is None and self.max_time is not None and now - self.started > self.max_time:
            late = Call("the run", self.started, self.max_time, "--max-time")
        if late is None:
            return None
        budget = (f"--max-time {self.max_time:g} s" if late.origin == "--max-time"
                  else f"{late.seconds:.0f} s, derived from its estimated work")
        return BadInput(f"{late.step} passed its time budget ({budget}) and was stopped", path=source,
                        hint="nothing was written; " + MAX_TIME_HINT)

    def manifest_entry(self) -> dict[str, object]:
        """For manifest.json: a user-set limit; derived deadlines depend on the machine."""
        if self.max_time is not None:
            return {"budget": "--max-time", "max_time_seconds": self.max_time}
        return {"budget": "derived deadlines per runtime call"}


_clock = Clock()


def current() -> Clock:
    return _clock


def start(max_time: float | None = None) -> Clock:
    """A new clock for a run (the CLI, a build worker), now current."""
    global _clock
    _clock = Clock(max_time)
    return _clock


LOAD_BYTES_PER_SECOND = 20e6
"""Reading and building a model in TensorFlow, per byte of its file (or folder)."""


def load_seconds(path: Path) -> float:
    """The estimated seconds to load the model at `path` (beside the floor)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / LOAD_BYTES_PER_SECOND


def estimate_text(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
