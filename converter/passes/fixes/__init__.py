"""Fixes: passes that repair a topology for TensorFlow.js, or an exported
ONNX graph for the runtimes that load it (see converter.passes).

The Keras fixes are small functions over the topology JSON. They are
idempotent, so the same chain also normalises what tf_keras writes back
(`normalise`), which is not recorded as applying them again.
"""

from __future__ import annotations

import copy
from typing import Any

from converter.core.registry import Registry
from converter.passes import FIX, KERAS_TOPOLOGY, ONNX, Applied, Pass, apply
from converter.passes.fixes import (
    bilinear_half_pixel,
    custom_layer_names,
    functional_to_model,
    keras3_topology,
    onnx_concat_split,
    onnx_explicit_attributes,
    serialization_keys,
)

FIXES: Registry[Pass] = Registry("Keras fix", (
    Pass.of(module, KERAS_TOPOLOGY, FIX)
    for module in (keras3_topology, serialization_keys, custom_layer_names, bilinear_half_pixel, functional_to_model)
))
ONNX_FIXES: Registry[Pass] = Registry("ONNX fix", (
    Pass.of(module, ONNX, FIX) for module in (onnx_concat_split, onnx_explicit_attributes)
))
FIX_NAMES = Registry("fix", (*FIXES, *ONNX_FIXES)).names()
"""--no-fix's choices: one name space over both forms' fixes."""


def apply_fixes(model: dict[str, Any], disabled: frozenset[str] = frozenset()) -> tuple[dict[str, Any], list[Applied]]:
    """A fixed copy of `model` (a `{class_name, config}` object) and what changed."""
    fixed = copy.deepcopy(model)
    return fixed, apply(FIXES, KERAS_TOPOLOGY, fixed, disabled=disabled)


def normalise(model: dict[str, Any], disabled: frozenset[str] = frozenset()) -> dict[str, Any]:
    return apply_fixes(model, disabled)[0]
