"""Parity computes at a lower CPU priority than the conversion beside it.

Parity overlaps conversion: an artifact verifies on its lanes while the next
target is built. But the build is the run's critical path (importing
TensorFlow, tracing and optimising a graph), and lanes competing with it as
equals slow it by more than they gain. Measured with farm-bench on 2 cores
(SwinIR fixture, whose free-size ONNX artifacts run at seven sizes): a
release took 1.33 times as long as before issue 25 with lanes at the
conversion's priority, 1.19 times with at most one lane computing during the
build, and 1.07 times with lanes at NICE (the rest is the extra checking:
free-size graphs load slower and run at more sizes).

So each lane's thread, and each runtime process it drives (Node, and the
Chromium Node starts), runs NICE steps nicer than srconvert itself: it
computes whenever the conversion leaves a core idle, and gets every core
once the build is done. It is no cap: under outside load a nicer lane is
slowed, never stopped, and runtime deadlines (converter.core.deadline) allow ten
times their estimate plus two minutes.

Linux gives each thread its own nice value; elsewhere a thread's call changes
nothing (macOS reports an error for a thread id, which is ignored), and only
the runtime processes are lowered.
"""

from __future__ import annotations

import os
import threading

NICE = 10
"""Steps below srconvert's own priority (0-19). The kernel weighs nice 10 at
about a tenth of 0; 5 (a third) measured 1.13 where 10 measured 1.07."""


def lower(pid: int = 0) -> None:
    """Lower process `pid` (or, with 0 on Linux, the calling thread) by NICE;
    best effort."""
    if not hasattr(os, "setpriority"):  # Windows
        return
    who = pid or threading.get_native_id()
    try:
        # From srconvert's own priority, not `who`'s: a Node host is started
        # on a lane's thread, lowered already, and inherits its value.
        own = os.getpriority(os.PRIO_PROCESS, os.getpid())
        os.setpriority(os.PRIO_PROCESS, who, min(19, own + NICE))
    except OSError:  # a thread id outside Linux, or a process that has exited
        pass
