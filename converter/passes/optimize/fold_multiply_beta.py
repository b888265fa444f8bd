"""Fold MultiplyBeta into the convolution that feeds it: conv(x) * beta is
conv'(x) with kernel and bias scaled by beta, when that convolution feeds
nothing else. RRDN has two per dense block; each fold saves a full pass over
an activation tensor in the browser."""

from __future__ import annotations

from typing import Any

import numpy as np

from converter.passes.optimize.graph_edit import bypass, consumers, layers

NAME = "fold_multiply_beta"
"""What the manifest calls it (explicit: renaming this file renames nothing)."""
SUMMARY = "MultiplyBeta folded into the convolution feeding it (kernel and bias scaled by beta)"

FOLDABLE = {"Conv2D", "DepthwiseConv2D", "Conv2DTranspose"}


def run(model: dict[str, Any], weights: dict[str, list[Any]]) -> int:
    by_name = {layer["name"]: layer for layer in layers(model)}
    uses = consumers(model)
    folded = []
    for layer in layers(model):
        if layer.get("class_name") != "MultiplyBeta" or len(layer.get("inbound_nodes") or []) != 1:
            continue
        (entry,) = layer["inbound_nodes"][0]
        producer = by_name.get(entry[0])
        if producer is None or producer.get("class_name") not in FOLDABLE or uses.get(producer["name"]) != 1:
            continue
        if producer["config"].get("activation", "linear") != "linear" or producer["name"] not in weights:
            continue
        beta = np.float32(layer["config"].get("beta", 0.2))
        weights[producer["name"]] = [np.asarray(w, np.float32) * beta for w in weights[producer["name"]]]
        folded.append(layer["name"])
    for name in folded:
        bypass(model, name)
    return len(folded)
