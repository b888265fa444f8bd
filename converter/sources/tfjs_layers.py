"""TensorFlow.js layers-model folders: re-quantize or repair existing bundles.

The weights are read with tensorflowjs's own reader (quantized weights come
back dequantized), and the repaired canonical model is the parity reference.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from converter.core import tf_runtime
from converter.core.errors import BadInput
from converter.graphs.topology import model_config
from converter.sources import declared
from converter.sources.detect import TFJS_LAYERS, Probe, read_json
from converter.sources.loaded import Loaded
from converter.sources.paths import companion_file

NAME = "tfjs-layers"
"""The reader's name in sources.READERS."""
FORMATS = {TFJS_LAYERS: "TensorFlow.js layers model folder"}


def detect(probe: Probe) -> str | None:
    model_json = probe.path / "model.json"
    if not probe.is_dir or not model_json.is_file():
        return None
    document = _document(probe)
    if document.get("format") == "graph-model":
        raise BadInput(
            "a TFJS graph model holds no Keras layers to convert from",
            path=model_json,
            hint="convert the original checkpoint instead",
        )
    return TFJS_LAYERS if document.get("format") in ("layers-model", None) and "modelTopology" in document else None


def _document(probe: Probe) -> dict:
    """model.json, read once per probe (detect, content_bytes and describe share it)."""
    return probe.cached("model.json", lambda: read_json(probe.path / "model.json"))


def model_json_path(path: Path) -> Path:
    return path if path.name == "model.json" else path / "model.json"


def content_bytes(probe: Probe) -> declared.Content:
    path = probe.given
    model_json = model_json_path(path)
    manifest = _document(probe).get("weightsManifest") or []
    if not isinstance(manifest, list) or not all(isinstance(group, dict) for group in manifest):
        raise declared.refuse(model_json, "the weightsManifest is not a list of weight groups")
    shards = weight_files(model_json, manifest)
    stored = model_json.stat().st_size + sum(shard.stat().st_size for shard in shards)
    return declared.Content(declared.tfjs_manifest(model_json, manifest, shards), stored)


def describe(probe: Probe, fmt: str, options) -> dict[str, Any]:
    path = probe.given
    document = _document(probe)
    topology = document.get("modelTopology") or {}
    if not isinstance(topology, dict):
        raise BadInput("the modelTopology is not a JSON object", path=model_json_path(path),
                       hint="re-export the model")
    version = topology.get("keras_version")
    return {"keras_version": version, "topology": model_config(topology)}


def weight_files(model_json: Path, manifest: list[dict[str, Any]]) -> list[Path]:
    """The shard files the manifest names, refusing any outside the folder."""
    return [
        companion_file(model_json, name, "weights file", "copy the whole bundle folder; shards sit beside model.json")
        for group in manifest
        for name in group.get("paths", [])
    ]


def load(info, options):
    model_json = model_json_path(info.path)
    manifest = read_json(model_json).get("weightsManifest") or []
    weight_files(model_json, manifest)
    tf_runtime.tensorflowjs()
    from tensorflowjs import read_weights

    try:
        entries = read_weights.read_weights(manifest, str(model_json.parent), flatten=True)
    except (ValueError, KeyError, OSError) as exc:
        raise BadInput(f"unreadable weights ({exc})", path=model_json, hint="copy the whole bundle folder") from None
    grouped: OrderedDict[str, list[Any]] = OrderedDict()
    for entry in entries:
        layer = entry["name"].rsplit("/", 1)[0] if "/" in entry["name"] else entry["name"]
        grouped.setdefault(layer, []).append(entry["data"])
    return Loaded(dict(grouped), None)
