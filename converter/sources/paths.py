"""Files a model names (weight shards, external data) must stay in its folder."""

from __future__ import annotations

from pathlib import Path

from converter.errors import BadInput


def companion_file(model_file: Path, name: str, what: str, hint: str) -> Path:
    """`name` resolved beside `model_file`; BadInput when it leaves the folder
    (`../`, absolute paths, links pointing out) or does not exist."""
    folder = model_file.parent.resolve()
    target = (folder / name).resolve()
    if folder not in target.parents:
        raise BadInput(f"{what} {name!r} is outside the model's folder", path=model_file, hint=hint)
    if not target.is_file():
        raise BadInput(f"{what} {name!r} is missing", path=model_file, hint=hint)
    return target
