"""One memory budget for a run: estimated before the source is loaded,
enforced while it runs.

Before loading, a run needs `estimate(content)`: a fixed base (TensorFlow,
onnxruntime and the Node runtimes, measured at about 1.3 GB for the smallest
model) plus a multiple of the bytes the source declares (every stage holds
its own copy of the weights: the loaded model, the canonical model, each
emitted artifact and each runtime). A source whose estimate exceeds the
budget stops with exit 2 before anything heavy starts.

The budget defaults to the smaller of
  - the memory this process may use at all: the cgroup's limit where there
    is one, else the machine's total memory less a margin (MARGIN_SHARE of
    it, at least MARGIN_MIN, for the system), split evenly between the
    workers of a `build -j N`; and
  - what the source's size justifies: its estimate were its content four
    times its file size (weights compress a little, never a lot), or
    DEFAULT_FLOOR, whichever is larger;
so a 10 KB file cannot claim the machine, and `--max-memory` overrides both.
It never comes from the memory *available* at the moment: what a neighbour
holds for a second must not decide whether a sound model converts. A run
that really exhausts the machine is still stopped by `guard`.

While the run goes on, `guard` samples the resident memory of the process
and its children (the Node and Chromium runtimes) and ends the run, exit 2,
the moment it passes the budget: an estimate can be wrong, a budget cannot.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from converter.core.errors import BadInput

if TYPE_CHECKING:
    import subprocess

    from converter.core import deadline

GIB = 1 << 30
# Measured peaks of the whole process tree, `convert` with three precisions
# and parity: 1.29 GB for a 0.2 MB fixture, 1.55 GB for a 17 MB RRDN and
# 2.04 GB for a 66 MB RDN, so about 1.3 GB + 11-15x the weights. Rounded up.
BASE_BYTES = 3 * GIB // 2
CONTENT_FACTOR = 16
PLAUSIBLE_EXPANSION = 4
DEFAULT_FLOOR = 8 * GIB  # leaves room for the browser lane's Chromium on a tiny model
MARGIN_SHARE = 0.1
MARGIN_MIN = 2 * GIB
SAMPLE_SECONDS = 0.05
CHILDREN_REFRESH = 4  # runtimes start rarely: look for new ones every 200 ms

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": GIB, "T": 1 << 40}


def format_bytes(n: float) -> str:
    """Binary units, as --max-memory takes them."""
    for unit, size in (("TiB", 1 << 40), ("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def parse_size(text: str) -> int:
    """`512M`, `4G`, `2.5GiB`, `1000000` -> bytes (binary units); ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a size; e.g. 4G or 512M")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def estimate(content_bytes: int) -> int:
    """The peak a run is expected to reach for a source declaring `content_bytes`."""
    return BASE_BYTES + CONTENT_FACTOR * content_bytes


def process_limit() -> int:
    """The memory this process may use at all: its cgroup's limit, else
    the machine's total less a margin for the system."""
    import psutil

    total = psutil.virtual_memory().total
    machine = total - max(MARGIN_MIN, int(MARGIN_SHARE * total))
    limit = _cgroup_file("memory.max")  # "max" (no limit) reads as None
    return min(limit, total) if limit else machine


_workers = 1


def share_between(workers: int) -> None:
    """This process is one of `workers` running side by side (build -j): its
    default budget is its share of the limit."""
    global _workers
    _workers = max(1, workers)


def default_limit() -> int:
    return process_limit() // _workers


def _cgroup_file(name: str) -> int | None:
    try:
        text = (Path("/sys/fs/cgroup") / name).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class Budget:
    limit: int
    estimate: int
    origin: str
    """"--max-memory" or "default"."""

    def manifest_entry(self) -> dict[str, object]:
        """For manifest.json, which is reproducible: a default budget depends
        on the machine, so only its origin is recorded there (its value goes
        to parity.json with the other facts of the machine that ran)."""
        entry: dict[str, object] = {"budget": self.origin, "estimate_bytes": self.estimate}
        if self.origin != "default":
            entry["budget_bytes"] = self.limit
        return entry


READING_FLOOR = 2 * GIB
READING_FACTOR = 3


def reading_budget(path: Path, max_memory: int | None = None) -> Budget:
    """What detecting a source and reading its metadata may use, before its
    own budget is known: a few times the file (a protobuf is parsed whole),
    at least READING_FLOOR, within --max-memory or the default limit."""
    try:
        size = path.stat().st_size if path.is_file() else 0
    except OSError:
        size = 0
    limit = max(READING_FLOOR, READING_FACTOR * size)
    return Budget(min(limit, max_memory or default_limit()), 0, "--max-memory" if max_memory else "default")


def budget_for(path: Path, content_bytes: int, file_bytes: int, max_memory: int | None) -> Budget:
    """The run's budget; BadInput (exit 2) when the source cannot fit in it."""
    need = estimate(content_bytes)
    if max_memory is not None:
        budget = Budget(max_memory, need, "--max-memory")
    else:
        justified = max(DEFAULT_FLOOR, estimate(PLAUSIBLE_EXPANSION * file_bytes))
        budget = Budget(int(min(default_limit(), justified)), need, "default")
    if need > budget.limit:
        raise BadInput(
            f"this source needs about {format_bytes(need)} of memory to convert ({format_bytes(content_bytes)} of "
            f"declared weights and data); the {budget.origin} budget is "
            f"{format_bytes(budget.limit)}",
            path=path,
            hint="nothing was loaded; if the file is genuine, raise --max-memory",
        )
    return budget


def tree_rss(pid: int | None = None) -> int:
    """Resident bytes of a process and all its descendants."""
    return ProcessTree(pid).rss()


class ProcessTree:
    """A process and its descendants, for repeated resident-memory reads.

    Listing descendants reads every process's /proc entry (milliseconds on a
    busy machine), so the list is refreshed every `refresh` reads; reading
    the resident memory of the known processes costs microseconds."""

    def __init__(self, pid: int | None = None, refresh: int = 1) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.refresh = refresh
        self.reads = 0
        self.children: list = []

    def rss(self) -> int:
        import psutil

        if self.reads % self.refresh == 0:
            try:
                self.children = self.root.children(recursive=True)
            except psutil.Error:
                self.children = []
        self.reads += 1
        total = 0
        for process in [self.root, *self.children]:
            try:
                total += process.memory_info().rss
            except psutil.Error:  # exited between the listing and the read
                pass
        return total


@contextmanager
def guard(budget: Budget, source: Path, cleanup: Callable[[], None] = lambda: None,
          clock: "deadline.Clock | None" = None) -> Iterator[None]:
    """Enforce `budget` over this process tree, and `clock`'s deadlines
    (converter.core.deadline; the current one by default), while the block runs.

    Past either the run cannot be unwound politely (the main thread may be
    inside one long allocation or kernel in C), so the watcher kills the
    child runtimes, runs `cleanup` (the staging folder), prints the one
    error and exits 2 at once."""
    from converter.core import deadline

    clock = clock or deadline.current()
    stop = threading.Event()

    def over_memory(tree: ProcessTree) -> BadInput | None:
        used = tree.rss()
        if used <= budget.limit:
            return None
        return BadInput(
            f"the run passed its memory budget ({format_bytes(used)} in use, budget "
            f"{format_bytes(budget.limit)}, {budget.origin}) and was stopped",
            path=source,
            hint="nothing was written; if the model is genuine, raise --max-memory",
        )

    def watch() -> None:
        tree = ProcessTree(refresh=CHILDREN_REFRESH)
        while not stop.wait(SAMPLE_SECONDS):
            error = over_memory(tree) or clock.overdue(source)
            if error is not None:
                stop_run(error, cleanup)

    watcher = threading.Thread(target=watch, name="srconvert-budget-guard", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


_LIMIT_LOCK = threading.Lock()
"""Held while `ceiling` has lowered the limit, and while a child starts:
a child inherits the limit in force when it forks, and a Node runtime
started under a ceiling cannot reserve WebAssembly memory (seen in CI: the
reference lane read an HDF5 attribute while the onnxruntime-web lane
started its host, and both of its runs failed)."""


def popen(args: list[str], **kwargs) -> "subprocess.Popen":
    """subprocess.Popen, never while a `ceiling` holds: the child gets the
    process's own address-space limit."""
    import subprocess

    with _LIMIT_LOCK:
        return subprocess.Popen(args, **kwargs)


@contextmanager
def ceiling(extra: int) -> Iterator[None]:
    """Let the process map at most `extra` more bytes while the block runs.

    For one C call that allocates what a file declares while holding the
    GIL: h5py reading a variable-length string, where libhdf5 allocates the
    length an element declares (up to 4 GiB) before finding its data is not
    there. `guard`'s watcher is a Python thread and cannot sample until that
    call returns (a fuzzed file peaked at 4.1 GiB under a 2 GiB budget); an
    allocation past this ceiling fails inside the call, which then raises.
    The limit (RLIMIT_AS) is the whole process's, so the block must be one
    short read, and children start only outside it (`popen`). Where the mapped size cannot be read (not Linux), no limit."""
    import resource

    try:
        mapped = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = None
    with _LIMIT_LOCK:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limits = [mapped + extra] + [v for v in (soft, hard) if v != resource.RLIM_INFINITY] if mapped else []
        if limits:
            resource.setrlimit(resource.RLIMIT_AS, (min(limits), hard))
        try:
            yield
        finally:
            if limits:
                resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def stop_run(error: BadInput, cleanup: Callable[[], None]) -> None:
    """End the process now: kill the child runtimes, `cleanup`, print `error`, exit."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.Error:
            pass
    try:
        cleanup()
    finally:
        sys.stderr.write("\n".join(error.lines()) + "\n")
        sys.stderr.flush()
        os._exit(error.exit_code)
