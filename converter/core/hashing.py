"""sha256 of files and folders, streamed."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_path(path: Path) -> str:
    """A file's sha256, or for a folder one over its files' relative paths and bytes."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(sha256_file(file).encode() + b"\n")
    return digest.hexdigest()


def sha256_of(path: Path, companions: tuple[Path, ...] | list[Path] = ()) -> str:
    """A source's sha256: `sha256_path`, or with `companions` (files read
    beside it: an NCNN .param's .bin) one over each of them by name."""
    if not companions:
        return sha256_path(path)
    digest = hashlib.sha256()
    for file in (path, *companions):
        digest.update(file.name.encode() + b"\0" + sha256_file(file).encode() + b"\n")
    return digest.hexdigest()
