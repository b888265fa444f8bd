"""Writing a Keras 2 functional topology (the JSON tf_keras and TFJS read)
layer by layer, with each layer's weights beside it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np


class KerasGraph:
    def __init__(self, name: str) -> None:
        self.name = name
        self.layers: list[dict[str, Any]] = []
        self.weights: dict[str, list[np.ndarray]] = {}
        self._names: set[str] = set()
        self.input_name: str | None = None
        self.calls: dict[str, list[Any]] = {}
        """A layer merged into another by `share` -> [that layer, its node index]."""

    def unique(self, hint: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", hint).strip("_.-") or "layer"
        base = base if base[0].isalpha() else f"l_{base}"
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    def input(self, channels: int) -> str:
        name = self.unique("input")
        self.layers.append(
            {
                "class_name": "InputLayer",
                "name": name,
                "config": {"batch_input_shape": [None, None, None, channels], "dtype": "float32", "name": name},
                "inbound_nodes": [],
            }
        )
        self.input_name = name
        return name

    def add(self, class_name: str, hint: str, inputs: list[str], config: dict[str, Any] | None = None,
            weights: list[np.ndarray] | None = None) -> str:
        """Append a layer fed by `inputs` (layer names); returns its name, which
        is also the name of its output tensor."""
        name = self.unique(hint)
        self.layers.append(
            {
                "class_name": class_name,
                "name": name,
                "config": {"name": name, "trainable": False, "dtype": "float32", **(config or {})},
                "inbound_nodes": [[[source, 0, 0, {}] for source in inputs]],
            }
        )
        if weights:
            self.weights[name] = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]
        return name

    def layer(self, name: str) -> dict[str, Any]:
        return next(layer for layer in self.layers if layer["name"] == name)

    def share(self) -> int:
        """Merge layers of one class, config and weights into one layer called
        several times (several inbound nodes); returns how many calls moved.

        ONNX lets one initializer feed many nodes: recursive networks (DRRN,
        DRCN) apply one block again and again, and a layer per node would
        write its weights once per use, hundreds of times. Layers are matched
        on their final weights' bytes, so a kernel whose channels were
        permuted for one use stays apart from its plain uses. A call joins a
        layer only if it depends on that layer's previous call: TF.js's
        loader applies a layer's calls in the order their inputs become
        ready, and numbers them so; calls no data orders could be numbered
        out of order and wired to the wrong tensors."""
        digests: dict[int, bytes] = {}
        owners: dict[tuple[Any, ...], str] = {}  # key -> the layer the next equal call may join
        last_call: dict[str, str] = {}  # owner -> the layer written for its latest call
        position = {layer["name"]: i for i, layer in enumerate(self.layers)}
        by_name = {layer["name"]: layer for layer in self.layers}
        for layer in self.layers:
            name = layer["name"]
            if name not in self.weights:
                continue
            key = (layer["class_name"], json.dumps({k: v for k, v in layer["config"].items() if k != "name"},
                                                    sort_keys=True, default=str),
                   *(self._digest(w, digests) for w in self.weights[name]))
            owner = owners.get(key)
            if owner is None or not self._depends_on(name, last_call[owner], position, by_name):
                owners[key] = last_call[name] = name
                continue
            nodes = by_name[owner]["inbound_nodes"]
            self.calls[name] = [owner, len(nodes)]
            nodes.append(layer["inbound_nodes"][0])
            last_call[owner] = name
        if not self.calls:
            return 0
        self.layers = [layer for layer in self.layers if layer["name"] not in self.calls]
        for name in self.calls:
            del self.weights[name]
        for layer in self.layers:
            for node in layer["inbound_nodes"]:
                for entry in node:
                    entry[:2] = self.calls.get(entry[0], entry[:2])
        return len(self.calls)

    @staticmethod
    def _digest(value: np.ndarray, seen: dict[int, bytes]) -> tuple[Any, ...]:
        # Layers sharing an initializer hold the same array: hash it once.
        if id(value) not in seen:
            seen[id(value)] = hashlib.sha256(value.tobytes()).digest()
        return value.shape, seen[id(value)]

    def _depends_on(self, name: str, target: str, position: dict[str, int], by_name: dict[str, Any]) -> bool:
        """Whether layer `name`'s inputs are computed from layer `target`'s
        output (layers are written in graph order: nothing before `target`
        can be)."""
        pending, seen = [name], set()
        while pending:
            for entry in by_name[pending.pop()]["inbound_nodes"][0]:
                source = entry[0]
                if source == target:
                    return True
                if source not in seen and position[source] > position[target]:
                    seen.add(source)
                    pending.append(source)
        return False

    def topology(self, output: str) -> dict[str, Any]:
        return {
            "class_name": "Functional",
            "config": {
                "name": self.name,
                "layers": self.layers,
                "input_layers": [[self.input_name, 0, 0]],
                "output_layers": [[*self.calls.get(output, [output, 0]), 0]],
            },
        }
