"""Progress lines on stderr: one per stage and one per artifact verified.

They are plain text (no ANSI, no carriage returns) and on by default, at a
terminal and in a CI log alike: a job that prints nothing for minutes looks
hung, and some CI services end one that is silent for ten. `--quiet` and
`--json` turn them off, and notes (decisions made for the user) with them.
Warnings always go out: they say what a result does not prove.
"""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    def __init__(self, enabled: bool | None = True, prefix: str = "", notes: bool | None = None) -> None:
        """`enabled`: progress lines (None means on). `prefix`: put before
        every line, so parallel builds' lines can be told apart. `notes`:
        notes (default: as `enabled`)."""
        self.enabled = enabled is not False
        self.notes = self.enabled if notes is None else notes
        self.prefix = prefix
        self._start = time.perf_counter()
        self._lock = threading.Lock()  # lanes report from their own threads

    def step(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self._start
            self._print(f"[{elapsed:6.1f}s] {message}")

    def note(self, message: str) -> None:
        """A decision made for the user."""
        if self.notes:
            self._print(f"note: {message}")

    def warn(self, message: str) -> None:
        """Something the user must know about the result (an assumed input range)."""
        self._print(f"warning: {message}")

    def _print(self, line: str) -> None:
        with self._lock:
            print(f"{self.prefix}{line}", file=sys.stderr, flush=True)
