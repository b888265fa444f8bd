"""The lanes every artifact of a run is verified on (after Polygraphy's
runners, which know nothing of the comparator): one worker thread per
runtime family, and the host processes (Node, Chromium) its runners share.
`parity.engine.Verification` submits to them; nothing here compares."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from converter.backends import priority
from converter.backends.node.host import NodeHost, check_node
from converter.backends.registry import RUNTIMES, host_class


class Runtimes:
    """The runtimes shared by every artifact of a run.

    Each runtime family has a lane: one worker thread that runs its artifacts
    in order. The JavaScript runtimes get a Node process per lane, so TF.js and
    onnxruntime-web verify side by side, and both run while Python is still
    exporting the next format: parity overlaps conversion instead of following it.
    """

    def __init__(self, names: tuple[str, ...] = RUNTIMES.names(), backend: str = "wasm",
                 custom_layers_override: Path | None = None, ort_threads: int = 1) -> None:
        """`names`: the registry's runtimes this run uses. `ort_threads`:
        onnxruntime's intra-op threads. One by default: parity is a check,
        not a benchmark, and the other lanes and the conversion want the cores."""
        self.backend = backend
        self.ort_threads = ort_threads
        self.value_range: tuple[float, float] = (0.0, 1.0)
        """The model's input range (Verification.start sets the run's)."""
        self.custom_layers_override = custom_layers_override
        self._hosts: dict[str, NodeHost] = {}
        for name in names:
            if RUNTIMES[name].node_lane:
                self.host(RUNTIMES[name].node_lane)
        self._lanes: dict[str, ThreadPoolExecutor] = {}

    def host(self, lane: str) -> NodeHost:
        if lane not in self._hosts:
            self._hosts[lane] = host_class(lane)(self.backend, lane)
        return self._hosts[lane]

    def lane(self, name: str) -> ThreadPoolExecutor:
        if name not in self._lanes:
            # A lane computes whenever the conversion leaves a core idle (backends.priority).
            self._lanes[name] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"srconvert-{name}",
                                                   initializer=priority.lower)
        return self._lanes[name]

    def prestart(self) -> None:
        """Start the host processes in the background (Node takes about a
        second, Chromium a few), after checking synchronously that what they
        need is there at all (exit 3 before any work when not)."""
        if self._hosts:
            check_node()
        for name, host in self._hosts.items():
            host.check()
            self.lane(name).submit(host.start)

    def versions(self) -> dict[str, Any]:
        """The versions the runtimes that started in this run reported (and
        only those), under the keys each runtime declares."""
        versions: dict[str, Any] = {}
        for runtime in RUNTIMES:
            host = self._hosts.get(runtime.node_lane) if runtime.node_lane else None
            if host is not None and host.versions:
                versions.update({key: host.versions.get(reported) for key, reported in runtime.versions})
        return versions

    def browser(self) -> dict[str, Any] | None:
        """The browser that ran, and its GPU adapter, where one did."""
        host = self._hosts.get("chromium")
        if host is None or not host.versions:
            return None
        return {key: host.versions.get(key) for key in ("chromium", "tfjs", "ortweb", "webgl", "adapter")}

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.shutdown(wait=True, cancel_futures=True)
        self._lanes.clear()
        for host in self._hosts.values():
            host.close()
