"""Bilinear UpSampling2D -> ResizeBilinear.

Keras resizes with half-pixel centres; TensorFlow.js's UpSampling2D calls
resizeBilinear without them, so the same bundle computes a shifted image in
the browser (measured: 33 dB PSNR against Keras on a small net). The
replacement layer's JavaScript twin sets halfPixelCenters, matching Keras.
"""

from __future__ import annotations

from typing import Any

from converter.graphs.topology import iter_layers

NAME = "bilinear_half_pixel"
"""What --no-fix, the manifest and inspect call it (explicit: renaming this file renames nothing)."""
SUMMARY = "bilinear UpSampling2D replaced by ResizeBilinear (TF.js's UpSampling2D misses half-pixel centres)"


def run(model: dict[str, Any]) -> int:
    changes = 0
    for layer in iter_layers(model):
        config = layer.get("config", {})
        if layer.get("class_name") == "UpSampling2D" and config.get("interpolation") == "bilinear":
            size = config.get("size", [2, 2])
            layer["class_name"] = "ResizeBilinear"
            layer["config"] = {
                key: config[key] for key in ("name", "trainable", "dtype") if key in config
            } | {"size": [size, size] if isinstance(size, int) else list(size)}
            changes += 1
    return changes
