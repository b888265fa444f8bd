"""Warm worker processes for many releases (`build -j`, a zoo shard).

Each job slot is one spawned Python process that builds release after
release, so TensorFlow, PyTorch, onnxruntime and srconvert itself start
once per slot instead of once per model. That is all it saves: a release's
own work (loading the model, parity in every runtime) does not shrink, and
TensorFlow's import already overlaps it (README, "Performance", has the
measured gain). What a release must not inherit is reset before each one
(`_fresh`). The runtimes' hosts are not kept: a Node or
Chromium host starts in a tenth of a second to a second, and one that had
loaded an earlier bundle (its custom layers registered, its pages open)
could let a later bundle pass on what it does not ship.

A worker whose release failed, or that died (the memory guard's exit, a
crash), is replaced by a fresh one for the next release: a failure's state
never reaches another model.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable


def run(fn: Callable[..., Any], calls: list[tuple[tuple, dict]], workers: int, healthy: Callable[[Any], bool],
        died: Callable[[int], Any]) -> list[Any]:
    """`fn(*args, **kwargs)` for each call, at most `workers` at a time,
    each in a warm worker process; the results in call order. `healthy(r)`:
    whether the worker that returned `r` may take another call (else it is
    replaced). `died(i)`: the result for call `i` when its worker ended
    before returning one (it printed its own error)."""
    context = multiprocessing.get_context("spawn")  # a clean start: no parent threads, locks or TensorFlow
    pending = deque(range(len(calls)))
    results: list[Any] = [None] * len(calls)
    idle: list[_Worker] = []
    busy: dict[_Worker, int] = {}
    try:
        while pending or busy:
            while pending and len(busy) < max(1, workers):
                worker = idle.pop() if idle else _Worker.start(context)
                index = pending.popleft()
                args, kwargs = calls[index]
                worker.connection.send((fn, args, kwargs))
                busy[worker] = index
            waits = {w.connection: w for w in busy} | {w.process.sentinel: w for w in busy}
            for ready in {waits[handle] for handle in wait(list(waits))}:
                index = busy.pop(ready)
                result = ready.result()
                if result is _DIED:
                    results[index] = died(index)
                    ready.stop()
                    continue
                results[index] = result
                if healthy(result):
                    idle.append(ready)
                else:
                    ready.stop()
    finally:
        for worker in [*idle, *busy]:
            worker.stop()
    return results


_DIED = object()


@dataclass(eq=False)
class _Worker:
    process: Any
    connection: Any

    @classmethod
    def start(cls, context: Any) -> "_Worker":
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child,), name="srconvert-worker", daemon=True)
        process.start()
        child.close()
        return cls(process, parent)

    def result(self) -> Any:
        """What the worker sent back, or _DIED if it ended without a result."""
        try:
            if self.connection.poll():
                return self.connection.recv()
        except (EOFError, OSError):
            pass
        return _DIED

    def stop(self) -> None:
        """End the worker: asked first, then killed."""
        if self.process.is_alive():
            try:
                self.connection.send(None)
            except (OSError, ValueError):
                pass
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


def _serve(connection: Any) -> None:
    """A worker's loop: a call in, its result out, until told to stop."""
    while True:
        try:
            call = connection.recv()
        except EOFError:  # the parent is gone
            return
        if call is None:
            return
        fn, args, kwargs = call
        _fresh()
        connection.send(fn(*args, **kwargs))


def _fresh() -> None:
    """What one release leaves in the process that the next must not see:
    Keras's name counters and graph state (a rebuilt model's layer names
    would depend on what was built before, and so would its bytes), and the
    memory the last model held."""
    import gc
    import sys

    for name in ("tf_keras", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            module.backend.clear_session()
    gc.collect()
