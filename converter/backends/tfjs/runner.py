"""A TFJS bundle in real TensorFlow.js, inside the shared Node host."""

from __future__ import annotations

from pathlib import Path

from converter.backends.node.host import NodeHost
from converter.backends.node.runner import NodeRunner
from converter.bundle.custom_layers_js import CJS_NAME


class TfjsRunner(NodeRunner):
    lane = "tfjs"

    def __init__(self, host: NodeHost, model_json: Path, kind: str, custom_layers_js: Path | None) -> None:
        super().__init__(host, model_json, kind, custom_layers_js)
        self.runtime = f"tfjs-{host.backend}"


def model_kind(model_json: Path) -> str:
    """"layers" or "graph": which of TF.js's loaders a model.json takes, as
    its own `format` says (a model.json without one: graph when its topology
    is a graph's node list)."""
    import json

    document = json.loads(model_json.read_text(encoding="utf-8"))
    declared = {"layers-model": "layers", "graph-model": "graph"}.get(document.get("format"))
    return declared or ("graph" if "node" in (document.get("modelTopology") or {}) else "layers")


def for_artifact(artifact, root: Path, runtimes) -> TfjsRunner:
    """A layers model registers the custom layers its bundle ships (or the
    ones `verify --custom-layers-js` names instead); a graph model needs none."""
    kind = model_kind(root / artifact.entry)
    shipped = next((root / f["path"] for f in artifact.files if f["path"].endswith("/" + CJS_NAME)), None)
    layers_js = (runtimes.custom_layers_override or shipped) if kind == "layers" else None
    return TfjsRunner(runtimes.host(TfjsRunner.lane), root / artifact.entry, kind, layers_js)
