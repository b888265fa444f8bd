"""Keras 3 topology -> the Keras 2 form TensorFlow.js 4.x (and tf_keras) load.

Keras 3 writes `batch_shape` where TFJS needs `batch_input_shape` ("An
InputLayer should be passed either a `batchInputShape` or an `inputShape`"),
call arguments as `{args, kwargs}` with `__keras_tensor__` objects instead of
`[layer, node, tensor, kwargs]` lists, dtype policies as objects, a single
input or output as a flat triple, and a few config keys older Keras rejects.
"""

from __future__ import annotations

from typing import Any

from converter.graphs.topology import (first_call, iter_layers, iter_models, iter_objects, keras3_calls,
                                      tensor_histories)

NAME = "keras3_topology"
"""What --no-fix, the manifest and inspect call it (explicit: renaming this file renames nothing)."""
SUMMARY = "Keras 3 topology rewritten in the Keras 2 form TensorFlow.js 4.x loads"

# Config keys only Keras 3 writes, in layers and in the initialisers nested in
# them; tf_keras's (and TFJS's) constructors reject them.
KERAS3_ONLY_KEYS = ("optional", "lora_rank", "lora_alpha", "quantization_config", "input_axes", "output_axes")


def run(model: dict[str, Any]) -> int:
    changes = 0
    for sub in iter_models(model):
        changes += _nest_io_lists(sub["config"]) + _calls(sub["config"])
    for layer in iter_layers(model):
        changes += _layer(layer)
    return changes


def _calls(config: dict[str, Any]) -> int:
    """Each layer's calls as Keras 2 lists, numbered as Keras 2 numbers them:
    Keras 3 numbers a nested model's calls from 0, Keras 2 from 1 (its call
    0 is its own; topology.first_call), and tf_keras waits forever for a
    call 0 of a nested model that never comes."""
    layers = config.get("layers") or []
    if not keras3_calls(layers):
        return 0
    first = {layer.get("name"): first_call(layer) for layer in layers}

    def renumbered(ref: Any) -> Any:
        if not (isinstance(ref, list) and len(ref) >= 2 and isinstance(ref[1], int)):
            return ref  # not a reference a file of Keras's holds: topology.malformed names it
        return [ref[0], ref[1] + first.get(ref[0], 0), *ref[2:]]

    for layer in layers:
        nodes = layer.get("inbound_nodes") or []
        layer["inbound_nodes"] = [[renumbered(ref) for ref in _node(node)] if isinstance(node, dict) else node
                                  for node in nodes]
    for key in ("input_layers", "output_layers"):
        if isinstance(config.get(key), list):
            config[key] = [renumbered(ref) for ref in config[key]]
    return 1


def _nest_io_lists(config: dict[str, Any]) -> int:
    changes = 0
    for key in ("input_layers", "output_layers"):
        value = config.get(key)
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            config[key] = [value]
            changes += 1
    return changes


def _layer(layer: dict[str, Any]) -> int:
    config = layer.setdefault("config", {})
    changes = 0
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = _policy_name(config["dtype"])
        changes += 1
    if layer.get("class_name") == "InputLayer" and "batch_shape" in config:
        config["batch_input_shape"] = config.pop("batch_shape")
        changes += 1
    for obj in iter_objects(config):
        for key in KERAS3_ONLY_KEYS:
            if key in obj:
                del obj[key]
                changes += 1
    return changes


def _policy_name(policy: dict[str, Any]) -> str:
    return policy.get("config", {}).get("name", "float32")


def _node(node: dict[str, Any]) -> list[list[Any]]:
    """`{args, kwargs}` -> `[[layer, node_index, tensor_index, kwargs], ...]`."""
    kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if not tensor_histories(v)}
    return [[*history, kwargs] for history in tensor_histories(node.get("args", []))]
