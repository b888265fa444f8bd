"""Progress lines for people at a terminal; silence for CI logs and --json."""

from __future__ import annotations

import os
import sys
import time


class Progress:
    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty() and not os.environ.get("CI")
        self.enabled = enabled
        self._start = time.perf_counter()

    def step(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self._start
            print(f"[{elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)
