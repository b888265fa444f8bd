"""Progress lines for people at a terminal; silence for CI logs and --json."""

from __future__ import annotations

import os
import sys
import time


class Progress:
    def __init__(self, enabled: bool | None = None) -> None:
        self.quiet = enabled is False  # asked for silence (--json), not merely no terminal
        if enabled is None:
            enabled = sys.stderr.isatty() and not os.environ.get("CI")
        self.enabled = enabled
        self._start = time.perf_counter()

    def step(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self._start
            print(f"[{elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)

    def note(self, message: str) -> None:
        """A decision made for the user: shown in CI logs too, unless quiet (--json)."""
        if not self.quiet:
            print(f"note: {message}", file=sys.stderr, flush=True)
