"""A TFJS bundle in real TensorFlow.js, inside the shared Node host."""

from __future__ import annotations

from pathlib import Path

from converter.backends.node.host import NodeHost
from converter.backends.node.runner import NodeRunner


class TfjsRunner(NodeRunner):
    lane = "tfjs"

    def __init__(self, host: NodeHost, model_json: Path, kind: str, custom_layers_js: Path | None) -> None:
        super().__init__(host, model_json, kind, custom_layers_js)
        self.runtime = f"tfjs-{host.backend}"
