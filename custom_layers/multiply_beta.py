"""MultiplyBeta: residual scaling, `x * beta` (RRDN, ESRGAN's RRDB blocks).

UpscalerJS's hand-written twin hard-codes beta = 0.2 and older checkpoints
carry no `beta` in their config, so 0.2 is the default.
"""

from __future__ import annotations

import re
from typing import Any

from custom_layers.base import CustomLayer

DEFAULT_BETA = 0.2


def _canonical_config(match: re.Match[str], config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "beta": float(config.get("beta", DEFAULT_BETA))}


def _define_keras(keras: Any) -> type:
    class MultiplyBeta(keras.layers.Layer):
        def __init__(self, beta: float = DEFAULT_BETA, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.beta = float(beta)

        def call(self, inputs):
            return inputs * self.beta

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "beta": self.beta}

    return MultiplyBeta


MULTIPLY_BETA = CustomLayer(
    name="MultiplyBeta",
    spellings=re.compile(r"MultiplyBeta"),
    canonical_config=_canonical_config,
    define_keras=_define_keras,
    js_file="multiply_beta.js",
)
