"""Files a model names (weight shards, external data) must stay in its folder."""

from __future__ import annotations

from pathlib import Path

from converter.core.errors import BadInput
from converter.sources.admission import kind_of


def companion_file(model_file: Path, name: str, what: str, hint: str) -> Path:
    """`name` resolved beside `model_file`; BadInput when it leaves the folder
    (`../`, absolute paths, links pointing out), does not exist, or is not a
    regular file (a pipe or a device would block or never end)."""
    if not isinstance(name, str) or not name or "\0" in name:  # no file system takes such a name
        raise BadInput(f"{what} {name!r} is not a file name", path=model_file, hint=hint)
    folder = model_file.parent.resolve()
    target = (folder / name).resolve()
    if folder not in target.parents:
        raise BadInput(f"{what} {name!r} is outside the model's folder", path=model_file, hint=hint)
    if not target.exists():
        raise BadInput(f"{what} {name!r} is missing", path=model_file, hint=hint)
    kind = kind_of(target.stat().st_mode)
    if kind is not None or target.is_dir():
        raise BadInput(f"{what} {name!r} is {kind or 'a folder'}, not a file", path=model_file, hint=hint)
    return target
