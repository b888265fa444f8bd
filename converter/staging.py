"""Atomic output: a run writes into a hidden folder beside the destination and
renames it into place only once every artifact is written and verified.

A killed run leaves only the hidden staging folder (never the destination);
a run whose parity fails moves its bundle to `OUT.failed/` for inspection.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from converter.errors import BadInput

STAGING_PREFIX = ".srconvert-staging-"


def check_destination(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise BadInput("the output path is a file", path=out, hint="choose a folder path for -o")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise BadInput("the output folder exists and is not empty", path=out, hint="pass --force to replace it")


def create(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(out.parent)
    # The pid in the name lets a later run tell a killed run's leftovers from
    # a live run's work.
    stage = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out.name}-{os.getpid()}-", dir=out.parent))
    stage.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would follow the bundle to a web server
    return stage


def publish(staging: Path, out: Path) -> None:
    """Swap the finished bundle in; an old destination goes only at the end."""
    retired = None
    if out.exists():
        retired = out.with_name(f"{STAGING_PREFIX}{out.name}-{os.getpid()}-retired")
        os.replace(out, retired)
    os.replace(staging, out)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def keep_failed(staging: Path, out: Path) -> Path:
    failed = out.with_name(out.name + ".failed")
    if failed.exists():
        shutil.rmtree(failed)
    os.replace(staging, failed)
    return failed


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def _sweep_stale(parent: Path) -> None:
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
