"""Which paths may be read as (part of) a source: regular files and folders only.

A named pipe, a socket or a device given as a source (or linked from inside a
model folder) would block a read forever or never end (`/dev/zero`), so each
path is checked with `stat` before anything opens it, and srconvert's own
reads open with O_NONBLOCK and check again on the open descriptor: a path
swapped for a FIFO between the two cannot block either. Libraries (h5py,
zipfile, onnx, TensorFlow) only ever open paths admitted here.

Multi-file formats (a SavedModel or TF.js folder, ONNX external data) may not
reach outside their folder through links: a model is the folder it ships in.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from converter.core.errors import BadInput

# A model folder holds a few dozen files; a walk that meets more is not a model.
MAX_FOLDER_ENTRIES = 10_000


def kind_of(mode: int) -> str | None:
    """What a non-regular, non-folder file is; None for the two allowed kinds."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def admit(path: Path) -> None:
    """Refuse `path` unless it is a regular file or a folder whose every
    entry is a regular file or folder inside it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise BadInput("no such file or folder", path=path, hint="check the path") from None
    except OSError as exc:  # a symlink loop, a permission problem
        raise BadInput(f"cannot be read ({exc.strerror})", path=path, hint="check the path") from None
    _refuse_special(path, mode)
    if stat.S_ISDIR(mode):
        admit_folder(path)


def admit_folder(folder: Path) -> None:
    root = folder.resolve()
    seen = 0
    for parent, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            seen += 1
            if seen > MAX_FOLDER_ENTRIES:
                raise BadInput(f"the folder holds more than {MAX_FOLDER_ENTRIES} entries: not a model folder",
                               path=folder, hint="point at the model's own folder")
            entry = Path(parent) / name
            if entry.is_symlink():
                admit_member(root, entry, folder)
            else:
                _refuse_special(entry, entry.lstat().st_mode, folder)


def admit_member(root: Path, entry: Path, source: Path) -> None:
    """Refuse the link `entry` (inside the model folder `root`) unless it
    resolves to a regular file or folder that stays inside `root`."""
    try:
        target = entry.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling link or a loop
        raise BadInput(f"{entry.relative_to(root) if entry.is_relative_to(root) else entry} is a broken link",
                       path=source, hint="copy the model folder with its files, not links") from None
    if target != root and root not in target.parents:
        raise BadInput(f"{entry.name} links outside the model's folder (to {target})", path=source,
                       hint="copy the model folder with its files, not links")
    _refuse_special(entry, target.stat().st_mode, source)


def _refuse_special(path: Path, mode: int, source: Path | None = None) -> None:
    kind = kind_of(mode)
    if kind is not None:
        where = f"{path.name} is " if source is not None else "the source is "
        raise BadInput(f"{where}{kind}, not a model file", path=source or path,
                       hint="give a regular file or a model folder; srconvert does not read pipes or devices")


def open_regular(path: Path) -> BinaryIO:
    """Open for reading without blocking, refusing anything not a regular file
    (checked on the open descriptor, so a path swapped after `admit` fails too)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            _refuse_special(Path(path), mode)
        os.set_blocking(fd, True)  # a regular file: blocking reads are finite
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
