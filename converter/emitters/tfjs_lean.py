"""A lean model.json: only what TensorFlow.js reads to run the model.

Keras writes every constructor argument into a layer's config, most of them
for training (initializers, regularizers, constraints) or equal to the
default. On a 4 M-parameter RRDN that is ~200 KB of JSON beside 4 MB of uint8
weights. TF.js loads a layers model with fast (zero) weight init and then
overwrites every weight, so the training keys are dead weight, and a key
whose value is TF.js's own default reads the same when absent. The defaults
below are those of tfjs-layers 4.22's constructors (BaseConv, Dense, Layer,
InputLayer), which match Keras's. Custom layers keep their configs whole:
their JavaScript twins read them as written.
"""

from __future__ import annotations

from typing import Any

TRAINING_ONLY_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
# Layer (every built-in class): what an absent key means to TF.js.
LAYER_DEFAULTS: dict[str, Any] = {"trainable": True, "dtype": "float32"}
INPUT_DEFAULTS: dict[str, Any] = {"sparse": False, "ragged": False}
CONV_DEFAULTS: dict[str, Any] = {
    "strides": [1, 1],
    "dilation_rate": [1, 1],
    "data_format": "channels_last",
    "padding": "valid",
    "activation": "linear",
    "use_bias": True,
    "groups": 1,  # Keras 2.19 writes it; TF.js has no grouped convolution and ignores it
}
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "InputLayer": INPUT_DEFAULTS,
    "Conv2D": CONV_DEFAULTS,
    "DepthwiseConv2D": CONV_DEFAULTS,
    "Conv2DTranspose": CONV_DEFAULTS,
    "SeparableConv2D": CONV_DEFAULTS,
    "Dense": {"activation": "linear", "use_bias": True},
}


def topology(model: dict[str, Any], custom_classes: set[str]) -> dict[str, Any]:
    """A lean copy of a `{class_name, config}` functional topology."""
    layers = [_layer(layer, custom_classes) for layer in model["config"]["layers"]]
    return {**model, "config": {**model["config"], "layers": layers}}


def _layer(layer: dict[str, Any], custom_classes: set[str]) -> dict[str, Any]:
    # An inbound entry's fourth item is its call kwargs; TF.js reads a missing one as {}.
    inbound = [[entry[:3] if len(entry) == 4 and not entry[3] else entry for entry in node]
               for node in layer.get("inbound_nodes", [])]
    lean = {**layer, "inbound_nodes": inbound}
    class_name = layer["class_name"]
    if class_name in custom_classes:
        return lean
    defaults = {**LAYER_DEFAULTS, **CLASS_DEFAULTS.get(class_name, {})}
    lean["config"] = {
        key: value
        for key, value in layer["config"].items()
        if not key.endswith(TRAINING_ONLY_SUFFIXES)
        and key != "activity_regularizer"
        and not (key in defaults and value == defaults[key])
    }
    return lean


def weights_manifest(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """tensorflowjs writes `original_dtype` (TF.js never reads it: the
    weight's own `dtype` says the same) and float64 reprs of float32 values."""
    lean = []
    for group in groups:
        weights = []
        for entry in group["weights"]:
            quantization = entry.get("quantization")
            if quantization:
                quantization = {k: _float32(v) for k, v in quantization.items() if k != "original_dtype"}
                entry = {**entry, "quantization": quantization}
            weights.append(entry)
        lean.append({**group, "weights": weights})
    return lean


def _float32(value: Any) -> Any:
    """The shortest decimal that reads back as the same float32. TF.js
    computes `q * scale + min` and stores float32; the values move by under
    one float32 ulp, far below the quantization step."""
    if not isinstance(value, float):
        return value
    import numpy as np

    return float(np.format_float_positional(np.float32(value), unique=True, trim="-")) if value else 0.0
