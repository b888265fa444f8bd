"""Every file of the fuzzing corpus (tests/fuzz/corpus/<format>/), replayed
through what `srconvert inspect` calls, in this process: each ends in a
result or one of srconvert's own errors (exit 0-3), never anything else, and
nothing is written beside it. The corpus holds the mutants that once crashed
srconvert (exit 70), each named after what it found; a crash found later
joins it with its fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from converter.commands.inspection import inspect_source
from converter.core.errors import SrconvertError

CORPUS = Path(__file__).resolve().parent / "fuzz" / "corpus"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")


def test_the_corpus_holds_the_mutants_the_fuzzing_issue_named():
    assert {p.parent.name for p in FILES} >= {"hdf5", "onnx"} and len(FILES) >= 5


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(CORPUS).as_posix() for p in FILES])
def test_a_corpus_file_ends_in_a_result_or_a_clean_error(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    try:
        inspect_source(copy)
    except SrconvertError as error:
        assert error.exit_code in (1, 2, 3)
        lines = error.lines()
        assert 1 <= len(lines) <= 2 and str(copy) in lines[0] and "bug in srconvert" not in " ".join(lines), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing written beside it


def test_only_a_parsing_librarys_own_exceptions_are_the_files_fault(tmp_path):
    import io

    import h5py

    from converter.core.errors import BadInput
    from converter.sources.boundary import reading

    path = tmp_path / "model.h5"
    with pytest.raises(BadInput, match="h5py cannot read it: OSError") as caught:
        with reading(path, ("h5py",)):
            h5py.File(io.BytesIO(b"not HDF5 at all" * 64), "r")
    assert caught.value.path == path
    with pytest.raises(RuntimeError, match="srconvert's own"):  # a bug of srconvert's stays one (exit 70)
        with reading(path, ("h5py",)):
            raise RuntimeError("srconvert's own")
    with pytest.raises(BadInput) as named:  # a refusal raised deep in a reader gets the file's name
        with reading(path, ()):
            raise BadInput("a damaged attribute")
    assert named.value.path == path
