"""Checks on a source's topology, made before any heavy work starts."""

from __future__ import annotations

from typing import Any

import custom_layers
from converter.core.errors import BadInput
from converter.core.photos import IMAGE_CHANNELS
from converter.graphs.topology import MODEL_CLASSES, TFJS_LAYER_CLASSES, input_shape, iter_layers

# Keras built-ins that TensorFlow.js has no layer for. A model using one still
# converts to a TFJS graph model, but not to a layers model.
KERAS_ONLY_LAYER_CLASSES = frozenset(
    """Lambda Subtract UpSampling1D UpSampling3D Cropping1D Cropping3D ZeroPadding1D
    ZeroPadding3D SeparableConv1D DepthwiseConv1D Normalization GroupNormalization
    UnitNormalization Attention MultiHeadAttention Conv1DTranspose""".split()
)


def _class(layer: dict[str, Any]) -> str:
    return custom_layers.plain_class_name(layer.get("class_name", ""))


def check_source(info, channels: int | None, user_layers: dict[str, type], allow_lambda: bool) -> None:
    """The checks a source's topology allows before any loading. A source
    without one (weights-only, ONNX) is a network srconvert builds from its
    own layers; only its channel count can be wrong."""
    if info.topology is None:
        check_channels(info.input_channels, channels, info.path)
        return
    check_image_model(info.topology, info.path, channels)
    check_layers(info.topology, info.path, user_layers, allow_lambda)


def unknown_layer_classes(model: dict[str, Any], user_layers: dict[str, type] | None = None) -> list[str]:
    """Classes neither Keras, TF.js, srconvert nor the user defines: what
    neither `inspect` nor `convert` can load."""
    known = MODEL_CLASSES | TFJS_LAYER_CLASSES | KERAS_ONLY_LAYER_CLASSES | set(user_layers or {})
    classes = {_class(layer) for layer in iter_layers(model)}
    return sorted(cls for cls in classes if cls not in known and not custom_layers.find(cls))


def check_layers(model: dict[str, Any], path, user_layers: dict[str, type], allow_lambda: bool) -> None:
    """Refuse Lambda layers (they carry code) and custom layers nobody defined."""
    unknown = set(unknown_layer_classes(model, user_layers))
    for layer in iter_layers(model):
        name, cls = layer.get("name") or layer.get("config", {}).get("name"), _class(layer)
        if cls == "Lambda" and not allow_lambda:
            raise BadInput(
                f"layer {name!r} is a Lambda: it holds Python code that would run when loaded",
                path=path,
                hint="re-export with a registered layer, or pass --allow-lambda if you trust this file",
            )
        if cls in unknown:
            raise BadInput(
                f"unknown custom layer class {cls!r} (layer {name!r})",
                path=path,
                hint="srconvert knows PixelShuffle and MultiplyBeta; add yours with --custom-layer module:Class",
            )


def layers_without_tfjs_twin(model: dict[str, Any], user_js: set[str]) -> list[str]:
    """Classes a TFJS layers model could not deserialise."""
    missing = set()
    for layer in iter_layers(model):
        cls = _class(layer)
        if custom_layers.find(cls) or cls in user_js or cls in TFJS_LAYER_CLASSES or cls in MODEL_CLASSES:
            continue
        missing.add(cls)
    return sorted(missing)


def check_image_model(model: dict[str, Any], path, channels: int | None) -> None:
    """One NHWC image in, one out, of 1, 3 or 4 channels (those --channels
    says, if given): checked on the topology, before any loading."""
    config = model.get("config", {})
    inputs, outputs = config.get("input_layers") or [], config.get("output_layers") or []
    count_in = len(inputs) if inputs and isinstance(inputs[0], list) else 1
    count_out = len(outputs) if outputs and isinstance(outputs[0], list) else 1
    if count_in != 1 or count_out != 1:
        raise BadInput(
            f"the model has {count_in} inputs and {count_out} outputs; srconvert converts single-image models",
            path=path,
            hint="export just the super-resolution network (one image in, one image out)",
        )
    shape = input_shape(model)
    if shape is None:
        return
    if len(shape) != 4:
        raise BadInput(
            f"the model's input is {len(shape) - 1}-D ({shape}); srconvert converts image models (height, width, channels)",
            path=path,
            hint="export the network that takes an image",
        )
    check_channels(shape[3], channels, path)


def source_channels(info) -> int | None:
    """The image channels a source states: its reader's count, else its topology's input shape."""
    if info.input_channels is not None or info.topology is None:
        return info.input_channels
    shape = input_shape(info.topology)
    return shape[3] if shape is not None and len(shape) == 4 else None


def check_channels(stated: int | None, given: int | None, path) -> None:
    """The channel count comes from the source: a grayscale, RGB or RGBA
    network converts with no flag. `given` (--channels) is what the user
    expects it to take, and a source that states otherwise is refused."""
    if stated is None:
        return
    if given is not None and stated != given:
        raise BadInput(f"the model takes {stated}-channel images, not {given} as --channels says", path=path,
                       hint="leave --channels out: the model states what it takes")
    if stated not in IMAGE_CHANNELS:
        raise BadInput(f"the model takes {stated}-channel images; srconvert converts grayscale (1), RGB (3) and "
                       "RGBA (4) networks", path=path, hint="export the network for images of 1, 3 or 4 channels")
