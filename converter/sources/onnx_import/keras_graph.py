"""Writing a Keras 2 functional topology (the JSON tf_keras and TFJS read)
layer by layer, with each layer's weights beside it."""

from __future__ import annotations

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

    def topology(self, output: str) -> dict[str, Any]:
        return {
            "class_name": "Functional",
            "config": {
                "name": self.name,
                "layers": self.layers,
                "input_layers": [[self.input_name, 0, 0]],
                "output_layers": [[output, 0, 0]],
            },
        }
