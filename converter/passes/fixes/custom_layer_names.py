"""Custom layers under their canonical names, with their meaning in the config.

`PixelShuffle4x`, `Custom>PixelShuffle` and `PixelShuffle` with `block_size`
all become `PixelShuffle` with `scale`; `MultiplyBeta` always carries `beta`.
A bundle then loads with srconvert's `custom-layers.js` and with any
hand-written JS layer registered under the plain name.
"""

from __future__ import annotations

from typing import Any

import custom_layers
from converter.graphs.topology import iter_layers

NAME = "custom_layer_names"
"""What --no-fix, the manifest and inspect call it (explicit: renaming this file renames nothing)."""
SUMMARY = "custom layers renamed to PixelShuffle / MultiplyBeta with scale / beta in their config"


def run(model: dict[str, Any]) -> int:
    changes = 0
    for layer in iter_layers(model):
        spec = custom_layers.find(layer.get("class_name", ""))
        if spec is None:
            continue
        config = spec.normalise(layer["class_name"], layer.get("config", {}))
        if layer["class_name"] != spec.name or config != layer.get("config"):
            layer["class_name"] = spec.name
            layer["config"] = config
            changes += 1
    return changes
