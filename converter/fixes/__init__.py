"""Named passes that repair a Keras topology for TensorFlow.js.

Each pass is a small function over the JSON config: it edits in place and
returns how many things it changed. `apply_fixes` runs them in order on a copy
and reports those that changed something; the manifest records that list, and
`srconvert inspect` shows it before any conversion.

Passes are idempotent, so the same chain also normalises what tf_keras writes
back (`normalise`), without being recorded twice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from converter.fixes import (
    bilinear_half_pixel,
    custom_layer_names,
    functional_to_model,
    keras3_topology,
    onnx_concat_split,
    serialization_keys,
)


@dataclass(frozen=True)
class Fix:
    name: str
    summary: str
    run: Callable[[dict[str, Any]], int]
    default: bool = True


FIXES: tuple[Fix, ...] = (
    Fix("keras3_topology", keras3_topology.SUMMARY, keras3_topology.run),
    Fix("serialization_keys", serialization_keys.SUMMARY, serialization_keys.run),
    Fix("custom_layer_names", custom_layer_names.SUMMARY, custom_layer_names.run),
    Fix("bilinear_half_pixel", bilinear_half_pixel.SUMMARY, bilinear_half_pixel.run),
    Fix("functional_to_model", functional_to_model.SUMMARY, functional_to_model.run),
)

# Passes over the exported ONNX graph (a ModelProto, edited in place).
ONNX_FIXES: tuple[Fix, ...] = (Fix("onnx_concat_split", onnx_concat_split.SUMMARY, onnx_concat_split.run),)


@dataclass(frozen=True)
class AppliedFix:
    name: str
    summary: str
    changes: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "changes": self.changes}


def apply_fixes(
    model: dict[str, Any], disabled: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], list[AppliedFix]]:
    """A fixed copy of `model` (a `{class_name, config}` object) and what changed."""
    fixed = copy.deepcopy(model)
    applied = []
    for fix in FIXES:
        if fix.name in disabled:
            continue
        changes = fix.run(fixed)
        if changes:
            applied.append(AppliedFix(fix.name, fix.summary, changes))
    return fixed, applied


def normalise(model: dict[str, Any], disabled: frozenset[str] = frozenset()) -> dict[str, Any]:
    return apply_fixes(model, disabled)[0]


FIX_NAMES = tuple(fix.name for fix in FIXES + ONNX_FIXES)
