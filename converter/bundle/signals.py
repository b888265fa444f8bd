"""SIGTERM and SIGHUP end a run cleanly, as the memory guard does.

CI cancellation sends SIGTERM (and a closed terminal SIGHUP), often while the
main thread is deep inside one long inference in C, where a Python-level
handler would not run until it returns. So the C-level handler only writes
the signal's number to a pipe (`signal.set_wakeup_fd`), and a watcher thread
reading it does the work at once: kill the runtimes this process started,
remove every staging folder of this run (and, for `build`, those its killed
workers leave), print one line and exit 128 + the signal's number. Nothing
half-written is left, and the destination is untouched.

The Python-level handler parks the main thread at its next bytecode: the
conversion goes on while parity runs, and a main thread left running would
write into the staging folder while the watcher removes it (or, its runtime
killed under it, go on to the next).

SIGINT (Ctrl-C) stays a KeyboardInterrupt, unwound by the CLI.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

HANDLED = (signal.SIGTERM, signal.SIGHUP)
_sweep_roots: set[Path] = set()
_installed = False


def exit_code(signum: int) -> int:
    """The shell's convention: 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + signum


def sweep_on_exit(folder: Path) -> None:
    """Also remove, on a signal, the staging folders dead processes left in
    `folder` (a build's workers, killed with the run)."""
    _sweep_roots.add(Path(folder))


def install() -> None:
    """Handle SIGTERM and SIGHUP from now on (main thread only; idempotent)."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    for signum in HANDLED:
        signal.signal(signum, _park)  # the wakeup fd, not this, does the work
    threading.Thread(target=_watch, args=(read_fd,), name="srconvert-signals", daemon=True).start()
    _installed = True


def _park(*_: object) -> None:
    from converter.bundle import staging

    if staging.renaming_in(threading.get_ident()):
        return  # a rename under staging's lock finishes; the watcher waits for it
    threading.Event().wait()  # until the watcher's os._exit


def _watch(read_fd: int) -> None:
    while True:
        data = os.read(read_fd, 64)
        handled = [b for b in data if b in HANDLED]
        if handled:
            _stop(handled[0])


def _stop(signum: int) -> None:
    from converter.bundle import staging

    _kill_children()
    published = staging.discard_all()
    for root in _sweep_roots:
        staging.sweep_stale(root)
    name = signal.Signals(signum).name
    done = (f"the bundle had already been written to {', '.join(map(str, published))}" if published
            else "nothing was written to the destination")
    sys.stderr.write(f"error: stopped by {name}: the runtimes were ended, the staging folder removed, and {done}\n")
    sys.stderr.flush()
    os._exit(exit_code(signum))


def _kill_children() -> None:
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=5)  # dead before their staging folders are swept
