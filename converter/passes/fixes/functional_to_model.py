"""`Functional` -> `Model`: TensorFlow.js before 2.4 only knows `Model`, and
every later version accepts both, so the rename is always safe."""

from __future__ import annotations

from typing import Any

from converter.graphs.topology import iter_models

NAME = "functional_to_model"
"""What --no-fix, the manifest and inspect call it (explicit: renaming this file renames nothing)."""
SUMMARY = "class_name Functional renamed to Model (TensorFlow.js < 2.4 needs it)"


def run(model: dict[str, Any]) -> int:
    changes = 0
    for sub in iter_models(model):
        if sub.get("class_name") == "Functional":
            sub["class_name"] = "Model"
            changes += 1
    return changes
