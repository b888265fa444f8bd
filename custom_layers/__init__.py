"""The custom layers srconvert knows, each defined once: a Python Keras class
and its JavaScript twin, side by side in this folder.

`LAYERS` is the registry. Everything else (config normalisation, Keras
`custom_objects`, the emitted `custom-layers.js`) is derived from it, so adding a
layer means adding one module here and one `.js` file next to it.
"""

from __future__ import annotations

from custom_layers.base import CustomLayer, plain_class_name
from custom_layers.multiply_beta import MULTIPLY_BETA
from custom_layers.pixel_shuffle import PIXEL_SHUFFLE
from custom_layers.pixel_unshuffle import PIXEL_UNSHUFFLE
from custom_layers.resize_bilinear import RESIZE_BILINEAR

LAYERS: tuple[CustomLayer, ...] = (PIXEL_SHUFFLE, MULTIPLY_BETA, PIXEL_UNSHUFFLE, RESIZE_BILINEAR)

__all__ = ["LAYERS", "MULTIPLY_BETA", "PIXEL_SHUFFLE", "PIXEL_UNSHUFFLE", "RESIZE_BILINEAR", "CustomLayer", "find", "plain_class_name"]


def find(class_name: str) -> CustomLayer | None:
    """The registered layer that `class_name` (any in-the-wild spelling) names."""
    for layer in LAYERS:
        if layer.matches(class_name):
            return layer
    return None
