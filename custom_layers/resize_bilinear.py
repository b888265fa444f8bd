"""ResizeBilinear: bilinear upsampling by an integer factor with half-pixel
centres, exactly what Keras's `UpSampling2D(interpolation="bilinear")` does.

It exists because TensorFlow.js's own UpSampling2D calls resizeBilinear
without half-pixel centres, so the same layer computes a shifted image in the
browser; the `bilinear_half_pixel` fix swaps it in for that reason.
"""

from __future__ import annotations

import re
from typing import Any

from custom_layers.base import CustomLayer


def _canonical_config(match: re.Match[str], config: dict[str, Any]) -> dict[str, Any]:
    size = config.get("size", 2)
    size = [int(size), int(size)] if isinstance(size, (int, float)) else [int(s) for s in size]
    return {**config, "size": size}


def _define_keras(keras: Any) -> type:
    import tensorflow as tf

    class ResizeBilinear(keras.layers.Layer):
        def __init__(self, size=(2, 2), **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.size = [int(s) for s in (size if isinstance(size, (list, tuple)) else (size, size))]

        def call(self, inputs):
            shape = tf.shape(inputs)
            target = tf.stack([shape[1] * self.size[0], shape[2] * self.size[1]])
            return tf.cast(tf.image.resize(inputs, target, method="bilinear"), inputs.dtype)

        def compute_output_shape(self, input_shape):
            batch, height, width, channels = input_shape
            return (
                batch,
                None if height is None else height * self.size[0],
                None if width is None else width * self.size[1],
                channels,
            )

        def get_config(self):
            return {**super().get_config(), "size": list(self.size)}

    return ResizeBilinear


RESIZE_BILINEAR = CustomLayer(
    name="ResizeBilinear",
    spellings=re.compile(r"ResizeBilinear"),
    canonical_config=_canonical_config,
    define_keras=_define_keras,
    js_file="resize_bilinear.js",
)
