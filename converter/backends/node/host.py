"""The Python end of the Node host: start it once, send requests, read replies.

One process serves every JavaScript artifact of a run, so Node and the
runtimes start once, not once per artifact.
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np

from converter.backends import priority
from converter.core import memory
from converter.core.errors import EnvironmentProblem

HOST_SCRIPT = Path(__file__).with_name("host.cjs")
REPO_ROOT = Path(__file__).resolve().parents[3]
REQUIRED_PACKAGES = ("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "onnxruntime-web")


class NodeError(RuntimeError):
    """A request the JavaScript side answered with an error (bad bundle, op...)."""


def node_modules() -> Path:
    return Path(os.environ.get("SRCONVERT_NODE_MODULES", REPO_ROOT / "node_modules"))


def node_executable() -> str | None:
    """`node` on PATH, or SRCONVERT_NODE when set."""
    return shutil.which(os.environ.get("SRCONVERT_NODE", "node"))


def check_node() -> str:
    """The node executable; EnvironmentProblem naming the fix when missing."""
    node = node_executable()
    if node is None:
        raise EnvironmentProblem(
            "Node.js is not installed; srconvert verifies bundles in TensorFlow.js under Node",
            hint="install Node.js >= 18 (apt-get install nodejs npm), or pass --no-verify",
        )
    missing = [name for name in REQUIRED_PACKAGES if not (node_modules() / name / "package.json").is_file()]
    if missing:
        raise EnvironmentProblem(
            f"Node packages missing from {node_modules()}: {', '.join(missing)}",
            hint=f"run `npm ci` in {REPO_ROOT} (or `make setup`)",
        )
    return node


def encode(array: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(array, dtype=np.float32)
    return {"shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


def decode(reply: dict[str, Any]) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(reply["data"]), dtype=np.float32)
    return data.reshape(reply["shape"]).copy()


class NodeHost:
    """One Node process serving every JavaScript artifact of a lane."""

    script = HOST_SCRIPT

    def __init__(self, backend: str = "wasm", lane: str = "tfjs") -> None:
        """`lane`: the runtime this process serves ("tfjs" or "ortweb"); it
        loads only that one, so neither lane pays for the other's start-up."""
        self.backend = backend
        self.lane = lane
        self.versions: dict[str, Any] = {}
        self._process: subprocess.Popen[str] | None = None
        self._ids = itertools.count(1)
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)

    def start(self) -> "NodeHost":
        if self._process is not None:
            return self
        node = check_node()
        env = {**os.environ, "NODE_PATH": str(node_modules())}
        self._process = memory.popen(
            [node, str(self.script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            bufsize=1,
        )
        priority.lower(self._process.pid)  # before it starts threads or a browser, which inherit it
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        try:
            self.versions = self.request("init", **self.init_fields())
        except NodeError as exc:
            self.close()
            raise EnvironmentProblem(f"{self.title} did not start: {exc}", hint="run `srconvert doctor`") from None
        return self

    title = "TensorFlow.js under Node"

    def check(self) -> None:
        """What this host needs beyond Node, checked before any work."""

    def init_fields(self) -> dict[str, Any]:
        return {"backend": self.backend, "lane": self.lane}

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        if self._process is None:
            self.start()
        message = {"id": next(self._ids), "op": op, **fields}
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise EnvironmentProblem(
                "the Node host stopped unexpectedly: " + " | ".join(list(self._stderr)[-5:]),
                hint="run `srconvert doctor`",
            )
        reply = json.loads(line)
        if not reply.get("ok"):
            raise NodeError(reply.get("error", "unknown error"))
        return reply

    def _drain_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr.append(line.rstrip())

    def close(self) -> None:
        if self._process is None:
            return
        try:
            self._process.stdin.close()
            self._process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
        self._process = None

    def __enter__(self) -> "NodeHost":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
