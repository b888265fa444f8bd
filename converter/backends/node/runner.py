"""A model loaded into the shared Node host, behind the Runner interface."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from converter.backends.base import Runner
from converter.backends.node.host import NodeHost, decode, encode

_handles = itertools.count(1)


class NodeRunner(Runner):
    speed = "wasm"  # TF.js's wasm backend and onnxruntime-web under Node
    def __init__(self, host: NodeHost, entry: Path, kind: str, custom_layers_js: Path | None) -> None:
        super().__init__()
        self.host = host
        self.entry = entry
        self.kind = kind
        self.custom_layers_js = custom_layers_js
        self.load_fields: dict[str, str] = {}
        """Extra fields of the load request (a browser runner's backend)."""
        self.infer_fields: dict[str, object] = {}
        """Extra fields of each infer request (UpscalerJS's tiling)."""
        self._handle: str | None = None

    def activate(self) -> None:
        if self._handle is not None:
            return
        handle = f"{self.kind}{next(_handles)}"
        self.host.request(
            "load",
            handle=handle,
            kind=self.kind,
            modelJson=str(self.entry),
            customLayers=str(self.custom_layers_js) if self.custom_layers_js else None,
            **self.load_fields,
        )
        self._handle = handle

    def infer(self, batch: np.ndarray) -> np.ndarray:
        reply = self.host.request("infer", handle=self._handle, **encode(batch), **self.infer_fields)
        self.last_ms = float(reply["ms"])
        return decode(reply)

    def deactivate(self) -> None:
        if self._handle is not None:
            self.host.request("unload", handle=self._handle)
            self._handle = None
