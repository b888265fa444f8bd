"""A TFJS bundle in real TensorFlow.js, inside the shared Node host."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from converter.backends.base import Runner
from converter.backends.node.host import NodeHost, decode, encode

_handles = itertools.count(1)


class TfjsRunner(Runner):
    def __init__(self, host: NodeHost, model_json: Path, kind: str, custom_layers_js: Path | None) -> None:
        super().__init__()
        self.host = host
        self.model_json = model_json
        self.kind = kind
        self.custom_layers_js = custom_layers_js
        self.runtime = f"tfjs-{host.backend}"
        self._handle: str | None = None

    def activate(self) -> None:
        if self._handle is not None:
            return
        handle = f"tfjs{next(_handles)}"
        self.host.request(
            "load",
            handle=handle,
            kind=self.kind,
            modelJson=str(self.model_json),
            customLayers=str(self.custom_layers_js) if self.custom_layers_js else None,
        )
        self._handle = handle

    def infer(self, batch: np.ndarray) -> np.ndarray:
        reply = self.host.request("infer", handle=self._handle, **encode(batch))
        self.last_ms = float(reply["ms"])
        return decode(reply)

    def deactivate(self) -> None:
        if self._handle is not None:
            self.host.request("unload", handle=self._handle)
            self._handle = None
