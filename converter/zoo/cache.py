"""The zoo's build cache, content-addressed: a verified release folder is
stored under the hash of everything that decides its bytes (the weights'
sha256, srconvert's version and code, the pinned runtime versions, the
release's options), so a later build of the same model copies it instead of
converting again. In CI, restore the folder with the CI's own cache step.

A hit is used only after every file is re-checked against the hashes stored
with it; a damaged entry is a miss (rebuilt and replaced), never copied.
Only releases that passed parity are stored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from converter.core.errors import BadInput
from converter.core.hashing import sha256_file

RECORD = "cache.json"
RELEASE = "release"
ROOT = Path(__file__).resolve().parents[2]
PIN_FILES = ("constraints.txt", "package-lock.json")
"""Where a clone pins every Python and Node runtime version."""


@functools.cache
def pins() -> dict[str, str]:
    """The pinned runtime versions, as the sha256 of the files that pin them
    (a clone), or the installed versions (a pip install)."""
    found = {name: sha256_file(ROOT / name) for name in PIN_FILES if (ROOT / name).is_file()}
    if found:
        return found
    from converter import targets
    from converter.bundle.manifest import library_versions

    return library_versions(targets.libraries())


@functools.cache
def code() -> str:
    """The sha256 of srconvert's own code (converter/, custom_layers/): a
    clone between two version numbers is another srconvert, and its
    releases may differ."""
    digest = hashlib.sha256()
    for package in ("converter", "custom_layers"):
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + sha256_file(path).encode())
    return digest.hexdigest()


def key(weights_sha256: str, options: dict[str, Any]) -> str:
    from converter import __version__

    document = {"weights": weights_sha256, "srconvert": __version__, "code": code(), "pins": pins(),
                "options": options}
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def lookup(cache: Path, digest: str) -> Path | None:
    """The cached release folder, if present and every file still matches."""
    entry = cache / digest
    try:
        record = json.loads((entry / RECORD).read_text(encoding="utf-8"))
        files = record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    release = entry / RELEASE
    if record.get("key") != digest or not release.is_dir():
        return None
    from converter.bundle.manifest import check_files

    present = sorted(p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file())
    if present != sorted(f["path"] for f in files) or any(check_files(release, files)):
        return None
    return release


def store(cache: Path, digest: str, release: Path) -> None:
    """Copy a verified release in, atomically (a half-copied entry is never seen)."""
    from converter.bundle.manifest import describe_files

    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".storing-", dir=cache))
    try:
        shutil.copytree(release, scratch / RELEASE)
        files = describe_files(scratch / RELEASE, [p for p in (scratch / RELEASE).rglob("*") if p.is_file()])
        (scratch / RECORD).write_text(json.dumps({"key": digest, "files": files}, indent=2) + "\n", encoding="utf-8")
        target = cache / digest
        if target.exists():
            if not (target / RECORD).is_file():
                raise BadInput("the cache holds a folder srconvert did not write", path=target,
                               hint="give --cache a folder of its own")
            shutil.rmtree(target)  # a damaged entry of ours, which lookup refused
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
