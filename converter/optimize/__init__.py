"""Optimisations: named passes that make the graph leaner while computing the
same function within the float32 parity gate. On by default, recorded in the
manifest, turned off by --no-optimize. Parity always compares against the
source model, so every pass is checked on every run.

Keras-level passes edit the canonical topology and its weights, which every
writer works from (so TFJS and ONNX both gain); ONNX-level passes edit the
exported graph.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from converter.optimize import drop_identity, fold_multiply_beta, fuse_activation, onnx_resize_scales


@dataclass(frozen=True)
class Pass:
    name: str
    summary: str
    run: Callable[..., int]


KERAS_PASSES = (
    Pass("drop_identity", drop_identity.SUMMARY, drop_identity.run),
    Pass("fold_multiply_beta", fold_multiply_beta.SUMMARY, fold_multiply_beta.run),
    # After the beta fold, which needs the convolution's activation linear.
    Pass("fuse_activation", fuse_activation.SUMMARY, fuse_activation.run),
)
ONNX_PASSES = (Pass("onnx_resize_scales", onnx_resize_scales.SUMMARY, onnx_resize_scales.run),)
PASS_NAMES = tuple(p.name for p in KERAS_PASSES + ONNX_PASSES)


def optimize_keras(topology: dict[str, Any], weights: dict[str, list[Any]]) -> tuple[dict, dict, list[dict[str, Any]]]:
    """Copies of `topology` and `weights`, optimised, and what was done."""
    topology = copy.deepcopy(topology)
    weights = {name: list(values) for name, values in weights.items()}
    applied = []
    for opt in KERAS_PASSES:
        changes = opt.run(topology, weights)
        if changes:
            applied.append({"name": opt.name, "summary": opt.summary, "changes": changes})
    return topology, weights, applied


def optimize_onnx(proto: Any) -> list[dict[str, Any]]:
    applied = []
    for opt in ONNX_PASSES:
        changes = opt.run(proto)
        if changes:
            applied.append({"name": opt.name, "summary": opt.summary, "changes": changes})
    return applied
