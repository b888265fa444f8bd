"""Optimisations: passes that make the graph leaner while computing the same
function within the float32 parity gate (see converter.passes). On by
default, turned off by --no-optimize. Parity always compares against the
source model, so every pass is checked on every run.

Keras-level passes edit the canonical topology and its weights, which every
writer works from (so TFJS and ONNX both gain); ONNX-level passes edit the
exported graph.
"""

from __future__ import annotations

import copy
from typing import Any

from converter.core.registry import Registry
from converter.passes import KERAS, ONNX, OPTIMIZATION, Applied, Pass, apply
from converter.passes.optimize import drop_identity, fold_multiply_beta, fuse_activation, onnx_resize_scales

KERAS_PASSES: Registry[Pass] = Registry("Keras optimisation", (
    # fuse_activation after the beta fold, which needs the convolution's activation linear.
    Pass.of(module, KERAS, OPTIMIZATION) for module in (drop_identity, fold_multiply_beta, fuse_activation)
))
ONNX_PASSES: Registry[Pass] = Registry("ONNX optimisation", (Pass.of(onnx_resize_scales, ONNX, OPTIMIZATION),))


def optimize_keras(topology: dict[str, Any], weights: dict[str, list[Any]]) -> tuple[dict, dict, list[Applied]]:
    """Copies of `topology` and `weights`, optimised, and what was done."""
    topology = copy.deepcopy(topology)
    weights = {name: list(values) for name, values in weights.items()}
    return topology, weights, apply(KERAS_PASSES, KERAS, topology, weights)
