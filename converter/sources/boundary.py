"""One boundary per source format where the parsing libraries' own
exceptions become srconvert's `BadInput` (exit 2).

A damaged file makes h5py raise `RuntimeError("Link visitation failed (bad
heap free list)")`, onnx's protobuf a `DecodeError`, and so on, from wherever
srconvert happened to read it; catching them call by call misses the next
one. So each reader names the libraries that parse its format (`Reader.
libraries`), and every call into a reader (detect, declared content,
describe, derive, load) runs inside `reading`: an exception raised from
inside one of those libraries' own code (its innermost frame is theirs) is
the file's fault, reported as one line naming the file. An exception raised
in srconvert's own code is still a bug, and still says so (exit 70)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from converter.core.errors import BadInput, SrconvertError, one_line

DAMAGED_HINT = "the file is damaged or not what its name says: fetch it again from its publisher"


@contextlib.contextmanager
def reading(path: Path, libraries: tuple[str, ...]) -> Iterator[None]:
    """Translate what `libraries` (module names, e.g. "h5py") raise inside
    this block into BadInput about `path`."""
    try:
        yield
    except SrconvertError as error:
        if error.path is None:  # a refusal deep in a reader still names the file
            error.path = path
        raise
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # noqa: BLE001 - only a library's own are translated; the rest re-raise
        library = raised_in(exc, libraries)
        if library is None:
            raise
        raise BadInput(f"{library} cannot read it: {type(exc).__name__}: {one_line(exc, 200)}", path=path,
                       hint=DAMAGED_HINT) from None


def raised_in(exc: BaseException, libraries: tuple[str, ...]) -> str | None:
    """Which of `libraries` the innermost frame of `exc`'s traceback belongs to, or None."""
    traceback = exc.__traceback__
    if traceback is None:
        return None
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    module = str(traceback.tb_frame.f_globals.get("__name__", ""))
    return next((name for name in libraries if module == name or module.startswith(f"{name}.")), None)
