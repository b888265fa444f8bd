"""Editing a Keras 2 form functional topology: who feeds whom, and removing
a single-input layer by wiring its consumers to its input."""

from __future__ import annotations

from typing import Any


def layers(model: dict[str, Any]) -> list[dict[str, Any]]:
    return model["config"]["layers"]


def sources_of(layer: dict[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes") or []
    return [entry[0] for node in nodes for entry in node]


def consumers(model: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for layer in layers(model):
        for source in sources_of(layer):
            counts[source] = counts.get(source, 0) + 1
    for output in model["config"].get("output_layers") or []:
        counts[output[0]] = counts.get(output[0], 0) + 1
    return counts


def bypass(model: dict[str, Any], name: str) -> None:
    """Remove single-input layer `name`; its consumers read its input instead."""
    layer = next(l for l in layers(model) if l["name"] == name)
    (source,) = layer["inbound_nodes"][0]
    for other in layers(model):
        for node in other.get("inbound_nodes") or []:
            for entry in node:
                if entry[0] == name:
                    entry[0], entry[1], entry[2] = source[0], source[1], source[2]
    for output in model["config"].get("output_layers") or []:
        if output[0] == name:
            output[0], output[1], output[2] = source[0], source[1], source[2]
    model["config"]["layers"] = [l for l in layers(model) if l["name"] != name]
