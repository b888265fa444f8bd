"""Fuse an activation layer into the convolution that feeds it: Conv2D then
Activation("relu") is Conv2D(activation="relu"), when that convolution feeds
nothing else. ISR's RRDN and RDN write every ReLU as its own layer; fused, TF.js
runs one fused conv-bias-activation kernel instead of two passes, and
model.json loses a layer per convolution."""

from __future__ import annotations

from typing import Any

from converter.passes.optimize.graph_edit import bypass, consumers, layers

NAME = "fuse_activation"
"""What the manifest calls it (explicit: renaming this file renames nothing)."""
SUMMARY = "activation layers fused into the convolution feeding them (Conv2D + ReLU -> Conv2D(relu))"

FUSABLE_INTO = {"Conv2D", "DepthwiseConv2D", "Conv2DTranspose"}
# Activations TF.js and onnx_direct both run as part of a convolution layer.
FUSABLE = {"relu", "sigmoid", "tanh", "elu"}


def activation_of(layer: dict[str, Any]) -> str | None:
    """The activation a standalone layer applies, if it is one that fuses."""
    cls, config = layer.get("class_name"), layer.get("config", {})
    if cls == "Activation" and config.get("activation") in FUSABLE:
        return config["activation"]
    plain_relu = not config.get("max_value") and not config.get("negative_slope") and not config.get("threshold")
    if cls == "ReLU" and plain_relu:
        return "relu"
    return None


def run(model: dict[str, Any], weights: dict[str, list[Any]]) -> int:
    by_name = {layer["name"]: layer for layer in layers(model)}
    uses = consumers(model)
    fused = []
    for layer in layers(model):
        activation = activation_of(layer)
        nodes = layer.get("inbound_nodes") or []
        if activation is None or len(nodes) != 1 or len(nodes[0]) != 1:
            continue
        producer = by_name.get(nodes[0][0][0])
        if producer is None or producer.get("class_name") not in FUSABLE_INTO or uses.get(producer["name"]) != 1:
            continue
        if producer["config"].get("activation", "linear") != "linear":
            continue
        producer["config"]["activation"] = activation
        fused.append(layer["name"])
    for name in fused:
        bypass(model, name)
    return len(fused)
