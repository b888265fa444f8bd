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


def js_twins(layers: dict[str, type]) -> dict[str, str]:
    """Class name -> JavaScript twin, for the user layers that carry one."""
    return {name: cls.TFJS_SOURCE for name, cls in layers.items() if getattr(cls, "TFJS_SOURCE", None)}
