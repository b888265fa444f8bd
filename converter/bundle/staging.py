"""Atomic output: a run writes into a hidden folder beside the destination and
renames it into place only once every artifact is written and verified.

A killed run leaves only the hidden staging folder (never the destination),
which the next run beside it sweeps away; a run stopped by a signal removes
it itself (converter.bundle.signals). A run whose parity fails moves its bundle to
`OUT.failed/` for inspection.

srconvert never removes what it did not write: `--force` replaces only a
folder that is empty or holds a bundle of srconvert's (a manifest.json of
srconvert's listing every file there), and never one that is, holds or lies
inside the source, nor the current directory or one of its ancestors.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from converter.core.errors import BadInput

STAGING_PREFIX = ".srconvert-staging-"
FAILED_SUFFIX = ".failed"
_LOCK = threading.Lock()
"""Held while a staging folder is renamed into place, so a signal's clean-up
never removes a bundle halfway through being published."""
_active: set[Path] = set()
"""This process's staging folders, for the signal handler to remove."""
_published: list[Path] = []
"""The destinations this process has published to (a signal's message must
not claim it wrote nothing)."""
_holder: int | None = None
"""The thread inside a rename under `_LOCK`, if any (a signal does not park it there)."""


def destination(out: Path) -> Path:
    """`-o` as an absolute path with a name; the current directory, its
    ancestors and the root are refused: the output folder is replaced whole."""
    resolved = Path(os.path.abspath(out))
    here = Path.cwd()
    if resolved == here or resolved in here.parents or not resolved.name:
        raise BadInput("the output folder is the current directory or one of its parents, which srconvert would "
                       "replace whole", path=out, hint="give a new folder, e.g. -o out")
    return resolved


def check_destination(out: Path, force: bool, source: Path | None = None) -> None:
    """Refuse, before any work, an output folder a run may not replace: see
    the module's docstring. `out` as `destination` returns it."""
    if out.exists() and not out.is_dir():
        raise BadInput("the output path is a file", path=out, hint="choose a folder path for -o")
    if source is not None:
        _check_not_source(out, Path(os.path.realpath(source)))
    _check_replaceable(out, force)
    # A failed run's bundle is srconvert's scratch: replaced by the next failure without --force.
    _check_replaceable(out.with_name(out.name + FAILED_SUFFIX), True)


def _check_not_source(out: Path, source: Path) -> None:
    real = Path(os.path.realpath(out))
    if real == source or real in source.parents:
        raise BadInput("the output folder is, or holds, the source", path=out,
                       hint="write the bundle to a folder of its own, e.g. -o out")
    if source in real.parents:
        raise BadInput("the output folder lies inside the source folder", path=out,
                       hint="write the bundle outside the source, e.g. -o out")


def _check_replaceable(folder: Path, force: bool) -> None:
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    foreign = foreign_files(folder)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise BadInput(f"the folder exists and holds files srconvert did not write ({shown}), which replacing it "
                       "would delete", path=folder, hint="choose a new output folder, or move those files away")
    if not force:
        raise BadInput("the output folder holds a bundle srconvert wrote", path=folder,
                       hint="pass --force to replace it")


def foreign_files(folder: Path) -> list[str]:
    """The files in `folder` that no srconvert manifest there accounts for:
    every file, when it holds no manifest of srconvert's."""
    from converter.bundle.manifest import MANIFEST_NAME, written_files

    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())
    try:
        document = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        ours = set(written_files(document)) if document.get("tool", {}).get("name") == "srconvert" else set()
    except (OSError, ValueError, AttributeError, TypeError):
        ours = set()
    return [path for path in present if path not in ours]


def create(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out.parent)
    # The pid in the name lets a later run tell a killed run's leftovers from
    # a live run's work.
    stage = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out.name}-{os.getpid()}-", dir=out.parent))
    stage.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would follow the bundle to a web server
    with _LOCK:
        _active.add(stage)
    return stage


class _Renaming:
    """`_LOCK`, recording its holder: the signal handler lets a thread that
    is renaming finish, rather than park it holding the lock."""

    def __enter__(self) -> None:
        global _holder
        _LOCK.acquire()
        _holder = threading.get_ident()

    def __exit__(self, *_: object) -> None:
        global _holder
        _holder = None
        _LOCK.release()


def renaming_in(thread: int) -> bool:
    return _holder == thread


def publish(staging: Path, out: Path) -> None:
    """Swap the finished bundle in; an old destination goes only at the end."""
    with _Renaming():
        retired = None
        if out.exists():
            retired = out.with_name(f"{STAGING_PREFIX}{out.name}-{os.getpid()}-retired")
            os.replace(out, retired)
        os.replace(staging, out)
        _active.discard(staging)
        _published.append(out)
        if retired is not None:
            _active.add(retired)
    if retired is not None:
        discard(retired)


def keep_failed(staging: Path, out: Path) -> Path:
    """Move a failed run's bundle to OUT.failed/ (check_destination made
    sure an old one there is srconvert's)."""
    failed = out.with_name(out.name + FAILED_SUFFIX)
    with _Renaming():
        if failed.exists():
            shutil.rmtree(failed)
        os.replace(staging, failed)
        _active.discard(staging)
    return failed


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    with _LOCK:
        _active.discard(staging)


def discard_all(settle: float = 0.2, patience: float = 10.0) -> list[Path]:
    """Remove every staging folder of this process (on a signal), and return
    the destinations it had already published to. Holds `_LOCK` to the end,
    so no rename starts after it; the caller exits while holding it.

    A writer still inside one call (TensorFlow saving a file, a lane's last
    write) can add a file while rmtree walks, or re-create a folder it
    removed: so remove until each folder has stayed gone for `settle` seconds."""
    _LOCK.acquire()
    stages = list(_active)
    deadline = time.monotonic() + patience
    while stages and time.monotonic() < deadline:
        for stage in stages:
            shutil.rmtree(stage, ignore_errors=True)
        time.sleep(settle)
        stages = [stage for stage in stages if os.path.lexists(stage)]
    _active.clear()
    return list(_published)


def sweep_stale(parent: Path) -> None:
    """Remove staging folders of runs that were killed (their pid is gone)."""
    for stale in parent.glob(f"{STAGING_PREFIX}*"):
        try:
            pid = int(stale.name.rsplit("-", 2)[1])
        except (IndexError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True



def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
