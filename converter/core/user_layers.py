"""`--custom-layer module:Class`: users' own Keras layer classes.

The class loads the source (pass a class of the Keras the file was saved
with) and is used in the canonical tf_keras model. A class attribute
`TFJS_SOURCE` holding `function define<Class>(tf) { ... return cls; }` is
its JavaScript twin; without one, only `--tfjs-model graph` can be built.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from converter.core.errors import BadInput


def load_user_layers(specs: tuple[str, ...]) -> dict[str, type]:
    layers: dict[str, type] = {}
    for spec in specs:
        module_name, _, class_name = spec.partition(":")
        if not module_name or not class_name:
            raise BadInput(f"--custom-layer {spec!r} is not MODULE:CLASS", hint="e.g. --custom-layer my_layers:Upsample")
        if str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(module_name)
            layer = getattr(module, class_name)
        except (ImportError, AttributeError) as exc:
            raise BadInput(f"--custom-layer {spec!r} cannot be loaded ({exc})", hint="check the module is importable from here") from None
        layers[class_name] = layer
    return layers


def code_record(layers: dict[str, type], allow_lambda: bool) -> dict[str, Any]:
    """What code the conversion ran beyond srconvert's own, for the manifest:
    each user layer as `module:Class` with its file's sha256, and whether
    Lambda layers were allowed. {} when none (the manifest then says nothing)."""
    from converter.core.hashing import sha256_file

    record: dict[str, Any] = {}
    if layers:
        entries = []
        for cls in layers.values():
            file = getattr(sys.modules.get(cls.__module__), "__file__", None)
            entries.append({"spec": f"{cls.__module__}:{cls.__name__}",
                            "sha256": sha256_file(Path(file)) if file else None})
        record["custom_layers"] = entries
    if allow_lambda:
        record["allow_lambda"] = True
    return record


def missing_code(recorded: dict[str, Any], layers: dict[str, type], allow_lambda: bool) -> list[str]:
    """The options a re-check must be given again for the code `recorded`
    (code_record) names: srconvert never imports code because a manifest
    names it, since a bundle may come from anyone."""
    given = {f"{cls.__module__}:{cls.__name__}" for cls in layers.values()}
    options = [f"--custom-layer {entry['spec']}" for entry in recorded.get("custom_layers", ())
               if entry["spec"] not in given]
    if recorded.get("allow_lambda") and not allow_lambda:
        options.append("--allow-lambda")
    return options


def js_twins(layers: dict[str, type]) -> dict[str, str]:
    """Class name -> JavaScript twin, for the user layers that carry one."""
    return {name: cls.TFJS_SOURCE for name, cls in layers.items() if getattr(cls, "TFJS_SOURCE", None)}
