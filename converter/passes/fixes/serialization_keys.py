"""Drop the serialisation bookkeeping Keras >= 2.13 and Keras 3 add to every
object (`module`, `registered_name`, `build_config`, `compile_config`,
`shared_object_id`). Older TensorFlow.js and Keras know none of them, and
`registered_name` carries package prefixes (`Custom>PixelShuffle`)."""

from __future__ import annotations

from typing import Any

from converter.graphs.topology import iter_objects

NAME = "serialization_keys"
"""What --no-fix, the manifest and inspect call it (explicit: renaming this file renames nothing)."""
SUMMARY = "Keras >= 2.13 serialisation keys (module, registered_name, build_config) removed"

KEYS = ("module", "registered_name", "build_config", "compile_config", "shared_object_id")


def run(model: dict[str, Any]) -> int:
    changes = 0
    for obj in iter_objects(model):
        for key in KEYS:
            if key in obj:
                del obj[key]
                changes += 1
    return changes
