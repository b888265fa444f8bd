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
    each user layer as `module:Class` with the file it came from and that
    file's sha256, and whether Lambda layers were allowed. {} when none (the
    manifest then says nothing)."""
    from converter.core.hashing import sha256_file

    record: dict[str, Any] = {}
    if layers:
        entries = []
        for cls in layers.values():
            file = getattr(sys.modules.get(cls.__module__), "__file__", None)
            entries.append({"spec": f"{cls.__module__}:{cls.__name__}",
                            "file": str(Path(file).resolve()) if file else None,
                            "sha256": sha256_file(Path(file)) if file else None})
        record["custom_layers"] = entries
    if allow_lambda:
        record["allow_lambda"] = True
    return record


def trusted_code(recorded: dict[str, Any], bundle: Path) -> tuple[dict[str, type], bool]:
    """`verify --trust-code`: the user code a manifest's `source.code` names
    (code_record), imported because the user said they trust it, and only
    as the conversion ran it: each class from the file it was imported from
    then, whose sha256 is checked before anything of it runs. Gives the
    layers and whether Lambda layers were allowed."""
    from converter.core.hashing import sha256_file

    layers: dict[str, type] = {}
    for entry in recorded.get("custom_layers", ()):
        module_name, _, class_name = entry["spec"].partition(":")
        file = Path(entry["file"]) if entry.get("file") else None
        again = f"pass --custom-layer {entry['spec']} with the code you mean instead of --trust-code"
        if file is None or not file.is_file():
            raise BadInput(f"--trust-code: {entry['spec']} came from {file or 'a file the manifest does not name'}, "
                           "which is not there", path=bundle, hint=again)
        if sha256_file(file) != entry.get("sha256"):
            raise BadInput(f"--trust-code: {file} has changed since the conversion ran it (its sha256 is not the "
                           "manifest's), so it was not imported", path=bundle, hint=again)
        layers[class_name] = _class_from_file(module_name, class_name, file, bundle)
    return layers, bool(recorded.get("allow_lambda"))


def _class_from_file(module_name: str, class_name: str, file: Path, bundle: Path) -> type:
    """`class_name` of `file`, imported as `module_name` (Keras records a
    class by its module), once per process."""
    import importlib.util

    module = sys.modules.get(module_name)
    if module is None or Path(getattr(module, "__file__", "") or "").resolve() != file:
        spec = importlib.util.spec_from_file_location(module_name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise BadInput(f"--trust-code: {file} fails to import ({type(exc).__name__}: {exc})", path=bundle,
                           hint="fix the module, or pass --custom-layer with one that imports") from None
    layer = getattr(module, class_name, None)
    if not isinstance(layer, type):
        raise BadInput(f"--trust-code: {file} defines no class {class_name}", path=bundle,
                       hint="pass --custom-layer with the class the conversion used")
    return layer


def missing_code(recorded: dict[str, Any], layers: dict[str, type], allow_lambda: bool) -> list[str]:
    """The options a re-check must be given again for the code `recorded`
    (code_record) names, unless the user trusts it (trusted_code): srconvert
    never imports code only because a manifest names it, since a bundle may
    come from anyone."""
    given = {f"{cls.__module__}:{cls.__name__}" for cls in layers.values()}
    options = [f"--custom-layer {entry['spec']}" for entry in recorded.get("custom_layers", ())
               if entry["spec"] not in given]
    if recorded.get("allow_lambda") and not allow_lambda:
        options.append("--allow-lambda")
    return options


def js_twins(layers: dict[str, type]) -> dict[str, str]:
    """Class name -> JavaScript twin, for the user layers that carry one."""
    return {name: cls.TFJS_SOURCE for name, cls in layers.items() if getattr(cls, "TFJS_SOURCE", None)}
