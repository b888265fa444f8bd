"""PixelShuffle: sub-pixel upsampling, `tf.nn.depth_to_space` (DCR order).

Seen in the wild as `PixelShuffle` with `scale` (or `block_size`,
`upscale_factor`, `scale_factor`) in its config, and as `PixelShuffle2x`,
`PixelShuffle3x`, `PixelShuffle4x`, `PixelShuffle8x` (UpscalerJS's spelling),
whose scale is only in the name.
"""

from __future__ import annotations

import re
from typing import Any

from custom_layers.base import CustomLayer, scale_config

DEFAULT_SCALE = 2
_SCALE_KEYS = ("scale", "block_size", "upscale_factor", "scale_factor")


def _canonical_config(match: re.Match[str], config: dict[str, Any]) -> dict[str, Any]:
    return scale_config(match, config, _SCALE_KEYS, DEFAULT_SCALE)


def _define_keras(keras: Any) -> type:
    import tensorflow as tf

    class PixelShuffle(keras.layers.Layer):
        def __init__(self, scale: int = DEFAULT_SCALE, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.scale = int(scale)

        def call(self, inputs):
            return tf.nn.depth_to_space(inputs, self.scale)

        def compute_output_shape(self, input_shape):
            batch, height, width, channels = input_shape
            s = self.scale
            return (
                batch,
                None if height is None else height * s,
                None if width is None else width * s,
                None if channels is None else channels // (s * s),
            )

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    return PixelShuffle


PIXEL_SHUFFLE = CustomLayer(
    name="PixelShuffle",
    spellings=re.compile(r"PixelShuffle(?:(?P<scale>[0-9]+)x)?"),
    canonical_config=_canonical_config,
    define_keras=_define_keras,
    js_file="pixel_shuffle.js",
)
