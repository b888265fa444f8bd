"""PixelUnshuffle: space-to-depth, the inverse of PixelShuffle (DCR order, as
`tf.nn.space_to_depth`: output channel = (dy * scale + dx) * C + c).

Built from reshape/transpose rather than `tf.nn.space_to_depth` because
TensorFlow.js has no SpaceToDepth op: written this way the layer also runs in
a TFJS graph model. Real-ESRGAN's x2 and x1 nets start with one.
"""

from __future__ import annotations

import re
from typing import Any

from custom_layers.base import CustomLayer, scale_config

DEFAULT_SCALE = 2
_SCALE_KEYS = ("scale", "block_size", "downscale_factor")


def _canonical_config(match: re.Match[str], config: dict[str, Any]) -> dict[str, Any]:
    return scale_config(match, config, _SCALE_KEYS, DEFAULT_SCALE)


def _define_keras(keras: Any) -> type:
    import tensorflow as tf

    class PixelUnshuffle(keras.layers.Layer):
        def __init__(self, scale: int = DEFAULT_SCALE, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.scale = int(scale)

        def call(self, inputs):
            s = self.scale
            shape = tf.shape(inputs)
            n, h, w, c = shape[0], shape[1], shape[2], shape[3]
            # (n, h/s, s, w/s, s*c) -> (n, h/s, w/s, s, s*c): five dimensions, which every TFJS backend transposes.
            x = tf.reshape(inputs, [n, h // s, s, w // s, s * c])
            x = tf.transpose(x, [0, 1, 3, 2, 4])
            return tf.reshape(x, [n, h // s, w // s, s * s * c])

        def compute_output_shape(self, input_shape):
            batch, height, width, channels = input_shape
            s = self.scale
            return (
                batch,
                None if height is None else height // s,
                None if width is None else width // s,
                None if channels is None else channels * s * s,
            )

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    return PixelUnshuffle


PIXEL_UNSHUFFLE = CustomLayer(
    name="PixelUnshuffle",
    spellings=re.compile(r"PixelUnshuffle(?:(?P<scale>[0-9]+)x)?"),
    canonical_config=_canonical_config,
    define_keras=_define_keras,
    js_file="pixel_unshuffle.js",
)
