"""Drop layers that do nothing at inference: Dropout and its kin, linear
activations, MultiplyBeta(1), Rescaling(1, 0). Each is a kernel launch (and
a tensor) in TFJS for no arithmetic."""

from __future__ import annotations

from typing import Any

from converter.passes.optimize.graph_edit import bypass, layers

NAME = "drop_identity"
"""What the manifest calls it (explicit: renaming this file renames nothing)."""
SUMMARY = "inference-time identity layers removed (Dropout, linear Activation, x*1, x*1+0)"

ALWAYS_IDENTITY = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                   "GaussianDropout", "AlphaDropout", "ActivityRegularization"}


def _is_identity(layer: dict[str, Any]) -> bool:
    cls, config = layer.get("class_name"), layer.get("config", {})
    if cls in ALWAYS_IDENTITY:
        return True
    if cls == "Activation":
        return config.get("activation") == "linear"
    if cls == "MultiplyBeta":
        return float(config.get("beta", 0.2)) == 1.0
    if cls == "Rescaling":
        return float(config.get("scale", 1.0)) == 1.0 and float(config.get("offset", 0.0)) == 0.0
    return False


def run(model: dict[str, Any], weights: dict[str, list[Any]]) -> int:
    dropped = [layer["name"] for layer in layers(model) if _is_identity(layer)
               and len(layer.get("inbound_nodes") or []) == 1 and len(layer["inbound_nodes"][0]) == 1]
    for name in dropped:
        bypass(model, name)
    return len(dropped)
